{#- The event parameters and user properties that become typed columns, declared once in
    dbt_project.yml (README: "Adding a parameter, a user property, a conversion event, a currency"):
      ga4_event_params         the standard parameters the models read (keep them)
      ga4_custom_event_params  your own parameters, one entry each
      ga4_user_properties      your user properties, one entry each
      ga4_item_params          your item parameters (items[].item_params), one entry each
    An entry: {key: <the export's key>, column: <column name>, type: string|int|float|bool},
    optionally `events: [<event names>]` (other events get null), `upper: true` (upper-case
    text) and `default: <SQL literal>` (the value when the parameter is absent). Staging
    extracts and types every declared entry; the events mart carries them (its contract lists
    the columns: ga4_require_declared_contract_columns says which line is missing); the latest
    value of each user property per user is in user_attributes; the items mart carries the
    item parameters. -#}
{% macro ga4_declared_event_params() -%}
    {{ return(ga4_checked_declaration(
        var('ga4_event_params', []) + var('ga4_custom_event_params', []),
        'ga4_event_params / ga4_custom_event_params',
    )) }}
{%- endmacro %}

{% macro ga4_declared_item_params() -%}
    {{ return(ga4_checked_declaration(var('ga4_item_params', []), 'ga4_item_params')) }}
{%- endmacro %}

{% macro ga4_declared_user_properties() -%}
    {{ return(ga4_checked_declaration(var('ga4_user_properties', []), 'ga4_user_properties')) }}
{%- endmacro %}


{#- The entries, each checked: a bad declaration is a one-line compile error naming the entry. -#}
{% macro ga4_checked_declaration(entries, var_name) -%}
    {%- set identifier = modules.re.compile('^[a-z_][a-z0-9_]*$') -%}
    {%- set seen = [] -%}
    {%- for entry in entries -%}
        {%- set problem = none -%}
        {%- if entry is not mapping or not entry.get('key') or not entry.get('column') -%}
            {%- set problem = 'needs a key and a column' -%}
        {%- elif not identifier.match(entry.column | string) -%}
            {%- set problem = "column must be a lowercase SQL name (letters, digits, _)" -%}
        {%- elif entry.get('type') not in ['string', 'int', 'float', 'bool'] -%}
            {%- set problem = 'type must be string, int, float or bool' -%}
        {%- elif entry.column in seen -%}
            {%- set problem = 'declares the column ' ~ entry.column ~ ' a second time' -%}
        {%- elif entry.get('events') is not none and (entry.events is string or entry.events is not iterable) -%}
            {%- set problem = 'events must be a list of event names' -%}
        {%- endif -%}
        {%- if problem -%}
            {{ exceptions.raise_compiler_error("Variable " ~ var_name ~ ": the entry " ~ tojson(entry) ~ " " ~ problem ~ ", e.g. {key: coupon, column: coupon, type: string}.") }}
        {%- endif -%}
        {%- do seen.append(entry.column) -%}
    {%- endfor -%}
    {{ return(entries) }}
{%- endmacro %}


{#- One lookup per entry, `<column>__value,` (the value record, typed by ga4_declared_typed). -#}
{% macro ga4_declared_lookups(entries, params_column) -%}
    {%- for entry in entries %}
        {{ ga4_param_value(entry.key, params_column) }} as {{ entry.column }}__value,
    {%- endfor -%}
{%- endmacro %}

{#- The lookups' column names, to leave out of a `select *` once typed. -#}
{% macro ga4_declared_lookup_columns(entries) -%}
    {%- set names = [] -%}
    {%- for entry in entries -%}{%- do names.append(entry.column ~ '__value') -%}{%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{#- One typed column per entry, `<typed value> as <column>,`. -#}
{% macro ga4_declared_typed(entries) -%}
    {%- for entry in entries -%}
        {%- set value = ga4_typed_param(entry.column ~ '__value', entry.type) -%}
        {%- if entry.get('upper') -%}{%- set value = 'upper(' ~ value ~ ')' -%}{%- endif -%}
        {%- if entry.get('default') is not none -%}
            {%- set value = 'coalesce(' ~ value ~ ', ' ~ entry.default ~ ')' -%}
        {%- endif -%}
        {%- if entry.get('events') is not none %}
        case when event_name in ('{{ entry.events | join("', '") }}') then {{ value }} end as {{ entry.column }},
        {%- else %}
        {{ value }} as {{ entry.column }},
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{#- The type a declared column has in a contract (dbt's data_type) on this engine. -#}
{% macro ga4_declared_data_type(type_name) -%}
    {{ return({'string': 'string', 'int': truffle_type('int'), 'float': truffle_type('float'), 'money': truffle_type('money'), 'bool': 'boolean'}[type_name]) }}
{%- endmacro %}


{#- A mart whose contract is enforced must list every declared column it carries (a dbt YAML
    cannot be generated): a column missing from the model's YAML is a compile error that
    names the line to add, rather than dbt's generic contract mismatch. -#}
{% macro ga4_require_declared_contract_columns(entries) -%}
    {%- if execute and model.get('contract', {}).get('enforced') -%}
        {%- set listed = model.get('columns', {}) -%}
        {%- for entry in entries if entry.column not in listed -%}
            {{ exceptions.raise_compiler_error("The declared column " ~ entry.column ~ " (" ~ entry.key ~ ") is not in the contract of " ~ model.name ~ ": add `- name: " ~ entry.column ~ "` with `data_type: " ~ ga4_declared_data_type(entry.type) ~ "` to its columns in the YAML beside " ~ model.original_file_path ~ " (README: Adding a parameter, a user property, a conversion event, a currency).") }}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
