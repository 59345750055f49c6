{#- The fields of a GA4 `items` element the items mart keeps, with their types, in the
    export's order; item_params (a key/value list like event_params) is handled apart: only
    newer exports have it. Declared once: the DuckDB canonical type, the readers of Parquet
    and JSON exports and the mart's columns are generated from it. `money`: an amount, money in
    the mart (ga4_item_field_columns). -#}
{% macro ga4_item_fields() -%}
    {{ return([
        {'name': 'item_id', 'type': 'string'},
        {'name': 'item_name', 'type': 'string'},
        {'name': 'item_brand', 'type': 'string'},
        {'name': 'item_variant', 'type': 'string'},
        {'name': 'item_category', 'type': 'string'},
        {'name': 'item_category2', 'type': 'string'},
        {'name': 'item_category3', 'type': 'string'},
        {'name': 'item_category4', 'type': 'string'},
        {'name': 'item_category5', 'type': 'string'},
        {'name': 'price_in_usd', 'type': 'float', 'money': true},
        {'name': 'price', 'type': 'float', 'money': true},
        {'name': 'quantity', 'type': 'int'},
        {'name': 'item_revenue_in_usd', 'type': 'float', 'money': true},
        {'name': 'item_revenue', 'type': 'float', 'money': true},
        {'name': 'item_refund_in_usd', 'type': 'float', 'money': true},
        {'name': 'item_refund', 'type': 'float', 'money': true},
        {'name': 'coupon', 'type': 'string'},
        {'name': 'affiliation', 'type': 'string'},
        {'name': 'location_id', 'type': 'string'},
        {'name': 'item_list_id', 'type': 'string'},
        {'name': 'item_list_name', 'type': 'string'},
        {'name': 'item_list_index', 'type': 'string'},
        {'name': 'promotion_id', 'type': 'string'},
        {'name': 'promotion_name', 'type': 'string'},
        {'name': 'creative_name', 'type': 'string'},
        {'name': 'creative_slot', 'type': 'string'},
    ]) }}
{%- endmacro %}


{#- DuckDB type text of the canonical items list. -#}
{% macro ga4_duckdb_items_type() -%}
    {%- set fields = [] -%}
    {%- for field in ga4_item_fields() -%}
        {%- do fields.append(field.name ~ ' ' ~ truffle_type(field.type) | upper) -%}
    {%- endfor -%}
    STRUCT({{ fields | join(', ') }}, item_params {{ ga4_duckdb_params_type() }})[]
{%- endmacro %}

{#- The items column in the canonical type: as it is when it has it; a JSON list (JSON
    exports) or a struct list of another shape (the 2020-21 sample has no item_params)
    rebuilt field by field, a missing field null; no column, an empty list. -#}
{% macro ga4_duckdb_canonical_items(columns) -%}
    {%- set type_text = columns.get('items') -%}
    {%- if type_text == ga4_duckdb_items_type() -%}
        items
    {%- elif type_text is none -%}
        cast([] as {{ ga4_duckdb_items_type() }})
    {%- elif type_text.upper().startswith('JSON') -%}
        list_transform(items, lambda item: {
            {%- for field in ga4_item_fields() %}
            '{{ field.name }}': {{ truffle_safe_cast("json_extract_string(item, '$." ~ field.name ~ "')", field.type) }},
            {%- endfor %}
            'item_params': {{ ga4_duckdb_params_cast("from_json(json_extract(item, '$.item_params'), '[{\"key\": \"VARCHAR\", \"value\": {\"string_value\": \"VARCHAR\", \"int_value\": \"VARCHAR\", \"float_value\": \"VARCHAR\", \"double_value\": \"VARCHAR\"}}]')") }}
        })
    {%- else -%}
        {%- set present = truffle_struct_fields(type_text[:-2] if type_text.endswith('[]') else type_text) -%}
        list_transform(items, lambda item: {
            {%- for field in ga4_item_fields() %}
            '{{ field.name }}': {{ truffle_safe_cast('item.' ~ field.name, field.type) if field.name in present else 'cast(null as ' ~ truffle_type(field.type) ~ ')' }},
            {%- endfor %}
            'item_params': {{ ga4_duckdb_params_cast('item.item_params') if 'item_params' in present else 'cast([] as ' ~ ga4_duckdb_params_type() ~ ')' }}
        })
    {%- endif -%}
{%- endmacro %}


{#- The items of a relation's `items` column, one row per item: the relation's `event_key`,
    `item_index` (1-based position in the array) and the element's fields as columns. -#}
{% macro ga4_unnest_items(relation) -%}
    {{ return(adapter.dispatch('ga4_unnest_items', 'random_truffle')(relation)) }}
{%- endmacro %}

{% macro default__ga4_unnest_items(relation) -%}
    {{ exceptions.raise_compiler_error("ga4_unnest_items has no implementation for adapter '" ~ target.type ~ "'.") }}
{%- endmacro %}

{% macro duckdb__ga4_unnest_items(relation) -%}
    select
        event_key,
        item_index,
        unnest(item)
    from (
        select
            event_key,
            unnest(range(1, len(items) + 1)) as item_index,
            unnest(items) as item
        from {{ relation }}
    ) as item_elements
{%- endmacro %}

{% macro bigquery__ga4_unnest_items(relation) -%}
    select
        {{ relation }}.event_key,
        item_offset + 1 as item_index,
        item.*
    from {{ relation }}
    cross join unnest({{ relation }}.items) as item with offset as item_offset
{%- endmacro %}


{#- The unnested items' item_params column (prefixed by `relation`): older BigQuery
    exports (ga4_bigquery_has_newer_columns: false) have no such field, so an empty list. -#}
{% macro ga4_item_params(relation) -%}
    {{ return(adapter.dispatch('ga4_item_params', 'random_truffle')(relation)) }}
{%- endmacro %}

{% macro default__ga4_item_params(relation) -%}
    {{ relation }}.item_params
{%- endmacro %}

{% macro bigquery__ga4_item_params(relation) -%}
    {%- if var('ga4_bigquery_has_newer_columns', true) -%}
        {{ relation }}.item_params
    {%- else -%}
        array<struct<key string, value struct<string_value string, int_value int64, float_value float64, double_value float64>>>[]
    {%- endif -%}
{%- endmacro %}


{#- `<relation>.<field>,` for every item field, in order (the items mart's columns); the
    amounts as money (an item's amount is not checked by the quarantine: one no NUMERIC holds
    is null, the export's value stays in staging's items). -#}
{% macro ga4_item_field_columns(relation) -%}
    {%- for field in ga4_item_fields() %}
        {%- if field.get('money') %}
        {{ ga4_money(relation ~ '.' ~ field.name, safe=true) }} as {{ field.name }},
        {%- else %}
        {{ relation }}.{{ field.name }},
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}
