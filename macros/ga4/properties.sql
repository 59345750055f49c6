{#- The GA4 properties this warehouse reads, declared once: the variable `ga4_properties`, a
    list of {property_id, export_path (DuckDB: the property's export folder) or project and
    dataset (BigQuery: its export dataset), time_zone, currency}. Left empty (the default),
    one property from the single-export variables: ga4_property_id (else the number in
    ga4_dataset's name, GA4 names it analytics_<property id>, else that name),
    ga4_export_path / ga4_project + ga4_dataset, ga4_property_time_zone and
    ga4_property_currency, as before properties were declared. Every row carries its property (`property_id`) and every key that a second
    property could repeat hashes it. The CLI reads the same declaration
    (orchestrate/properties.py). -#}
{% macro ga4_properties() -%}
    {%- set declared = var('ga4_properties', none) or [] -%}
    {%- set properties = [] -%}
    {%- if declared is string or declared is mapping -%}
        {{ exceptions.raise_compiler_error("ga4_properties must be a list of properties ({property_id, export_path or project and dataset, time_zone, currency}), not " ~ (declared | string)[:60]) }}
    {%- endif -%}
    {%- if not declared -%}
        {%- do properties.append({
            'property_id': ga4_default_property_id(),
            'export_path': var('ga4_export_path', none),
            'project': var('ga4_project', none),
            'dataset': var('ga4_dataset', none),
            'time_zone': var('ga4_property_time_zone', 'UTC'),
            'currency': var('ga4_property_currency', 'USD'),
            'readers': [],
            'declared': false,
        }) -%}
    {%- endif -%}
    {%- for entry in declared -%}
        {%- if entry is not mapping -%}
            {{ exceptions.raise_compiler_error("ga4_properties entry " ~ loop.index ~ " is not a property ({property_id: ..., export_path: ... or dataset: ..., time_zone: ..., currency: ...}): " ~ (entry | string)[:60]) }}
        {%- endif -%}
        {%- do properties.append({
            'property_id': entry.get('property_id') | string if entry.get('property_id') is not none else '',
            'export_path': entry.get('export_path'),
            'project': entry.get('project'),
            'dataset': entry.get('dataset') or ('analytics_' ~ entry.get('property_id')),
            'time_zone': entry.get('time_zone') or 'UTC',
            'currency': entry.get('currency') or 'USD',
            'readers': entry.get('readers') or [],
            'declared': true,
        }) -%}
    {%- endfor -%}
    {%- set seen = [] -%}
    {%- for property in properties -%}
        {%- set where = ("ga4_properties entry " ~ loop.index) if property.declared else 'ga4_property_id' -%}
        {%- if not modules.re.match('^[A-Za-z0-9_-]{1,64}$', property.property_id) -%}
            {{ exceptions.raise_compiler_error(where ~ ": property_id " ~ (property.property_id or 'is missing') ~ (' is not a property id' if property.property_id else '') ~ ": use the GA4 property's id (digits, letters, '-' or '_').") }}
        {%- endif -%}
        {%- if property.property_id in seen -%}
            {{ exceptions.raise_compiler_error("ga4_properties: property_id " ~ property.property_id ~ " is declared twice: each property once.") }}
        {%- endif -%}
        {%- do seen.append(property.property_id) -%}
        {%- if property.time_zone not in modules.pytz.all_timezones_set -%}
            {{ exceptions.raise_compiler_error("property " ~ property.property_id ~ ": unknown time zone " ~ property.time_zone ~ " (use an IANA name such as America/Mexico_City).") }}
        {%- endif -%}
        {%- if not modules.re.match('^[A-Z]{3}$', property.currency | string) -%}
            {{ exceptions.raise_compiler_error("property " ~ property.property_id ~ ": currency " ~ property.currency ~ " is not an ISO 4217 code (three capital letters, such as USD).") }}
        {%- endif -%}
        {%- if property.declared and target.type == 'duckdb' and not property.export_path -%}
            {{ exceptions.raise_compiler_error("property " ~ property.property_id ~ ": export_path is missing (the folder of its events_YYYYMMDD files).") }}
        {%- endif -%}
        {%- do ga4_checked_principals(property.readers, "property " ~ property.property_id ~ ": readers") -%}
    {%- endfor -%}
    {{ return(properties) }}
{%- endmacro %}

{#- The properties an incremental run refreshes: every declared one, or those the variable
    `ga4_refresh_properties` names (`truffle nightly --property ID`, `backfill --property ID`):
    staging reads and replaces only their export days, and the models built from it derive
    the window's days again from what staging holds for every property. A full build
    (`incremental` false) reads every property whatever the variable says: it rebuilds every
    table. -#}
{% macro ga4_refreshed_properties(incremental=true) -%}
    {%- set properties = ga4_properties() -%}
    {%- set only = var('ga4_refresh_properties', none) -%}
    {%- if not only or not incremental -%}
        {{ return(properties) }}
    {%- endif -%}
    {%- set only = [only] if only is string else only -%}
    {%- set known = properties | map(attribute='property_id') | list -%}
    {%- for property_id in only -%}
        {%- if property_id | string not in known -%}
            {{ exceptions.raise_compiler_error("ga4_refresh_properties names " ~ property_id ~ ", which is not a declared property (" ~ known | join(', ') ~ ").") }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(properties | selectattr('property_id', 'in', only | map('string') | list) | list) }}
{%- endmacro %}

{#- The single property's id when none are declared: the variable `ga4_property_id`, else the
    number in the export dataset's name (analytics_<property id>), else that name. -#}
{% macro ga4_default_property_id() -%}
    {%- set declared = var('ga4_property_id', none) -%}
    {%- set dataset = var('ga4_dataset', none) | string -%}
    {%- set numbered = modules.re.match('^analytics_([0-9]+)$', dataset) -%}
    {{ return((declared | string | trim) if declared is not none else (numbered.group(1) if numbered else dataset)) }}
{%- endmacro %}

{#- SQL: a property's id as a text literal. -#}
{% macro ga4_property_id_literal(property) -%}
    {{ return('cast(' ~ truffle_string_literal(property.property_id) ~ ' as ' ~ truffle_type('string') ~ ')') }}
{%- endmacro %}

{#- SQL: the default currency of the row's property (`column`: its property_id), the currency
    of an amount sent without one. One property: its literal. -#}
{% macro ga4_property_currency(column='property_id') -%}
    {%- set values = {} -%}
    {%- for property in ga4_properties() -%}
        {%- do values.update({property.property_id: truffle_string_literal(property.currency)}) -%}
    {%- endfor -%}
    {{ return(ga4_property_case(column, values)) }}
{%- endmacro %}

{#- SQL: a value per property (`values`: property id -> SQL expression) for the row whose
    property_id is `column`; one value for every property: that value alone. -#}
{% macro ga4_property_case(column, values) -%}
    {%- if values.values() | unique | list | length == 1 -%}
        {{ return(values.values() | first) }}
    {%- endif -%}
    {%- set cases = [] -%}
    {%- for property_id, value in values.items() -%}
        {%- do cases.append('when ' ~ truffle_string_literal(property_id) ~ ' then ' ~ value) -%}
    {%- endfor -%}
    {{ return('case ' ~ column ~ ' ' ~ cases | join(' ') ~ ' end') }}
{%- endmacro %}

{#- The IAM principals a declaration grants (a property's `readers`,
    `ga4_all_properties_readers`), checked: a list of user:, group:, serviceAccount:, domain:
    (an e-mail address or domain after the colon) or principal:// / principalSet:// names. -#}
{% macro ga4_checked_principals(principals, where) -%}
    {%- if principals is string or principals is mapping -%}
        {{ exceptions.raise_compiler_error(where ~ " must be a list of IAM principals (such as group:analysts@example.com), not " ~ (principals | string)[:60]) }}
    {%- endif -%}
    {%- for principal in principals -%}
        {%- if not modules.re.match('^((user|group|serviceAccount|domain):[A-Za-z0-9._%+@-]+|principal(Set)?://[A-Za-z0-9._%+@/:-]+)$', principal | string) -%}
            {{ exceptions.raise_compiler_error(where ~ ": " ~ (principal | string)[:60] ~ " is not an IAM principal (user:, group:, serviceAccount: or domain: and an address, or a principal:// name).") }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(principals | map('string') | list) }}
{%- endmacro %}

{#- One identity across properties: the same id in two GA4 properties is two people, so
    distinct counts over several properties count this, not the id. Opt-in
    (`ga4_stitch_user_id_across_properties`): a person known by a user_id (`login`: SQL true
    when `id_column` is a login's user_id, not a device id) is one person in every property,
    counted once. Property ids have no '/' or '@'; a null id stays null. -#}
{% macro ga4_identity(id_column, property_column='property_id', login=none) -%}
    {%- if login is not none and ga4_user_id_stitched_across_properties() -%}
        (case when {{ login }} then '@/' || {{ id_column }} else {{ property_column }} || '/' || {{ id_column }} end)
    {%- else -%}
        ({{ property_column }} || '/' || {{ id_column }})
    {%- endif -%}
{%- endmacro %}

{#- SQL: whether a resolved row's unified_user_id (of a sessions / events / conversions row;
    `relation`: its qualifier, if any) is a login's user_id: its own, or its device's first
    login (identity resolved at read: coalesce(user_id, the device's user, user_pseudo_id)). -#}
{% macro ga4_is_login_identity(relation=none) -%}
    {%- set prefix = relation ~ '.' if relation else '' -%}
    ({{ prefix }}user_id is not null or {{ prefix }}unified_user_id <> {{ prefix }}user_pseudo_id)
{%- endmacro %}

{#- Whether a user_id names one person across every declared property (the variable
    ga4_stitch_user_id_across_properties, default false: two properties' ids never meet). -#}
{% macro ga4_user_id_stitched_across_properties() -%}
    {%- set stitched = var('ga4_stitch_user_id_across_properties', false) -%}
    {%- if stitched not in (true, false) -%}
        {{ exceptions.raise_compiler_error("ga4_stitch_user_id_across_properties must be true or false, not " ~ (stitched | string)[:40]) }}
    {%- endif -%}
    {{ return(stitched) }}
{%- endmacro %}

{#- BigQuery clustering of a model (`columns`, its own): with several properties,
    property_id first (a property's rows, which a per-property analysis or reader asks for,
    sit in their own blocks), then the model's columns up to BigQuery's four; one property:
    the model's own columns, as before. -#}
{% macro ga4_cluster_by(columns) -%}
    {%- if ga4_properties() | length > 1 -%}
        {{ return((['property_id'] + columns)[:4]) }}
    {%- endif -%}
    {{ return(columns) }}
{%- endmacro %}
