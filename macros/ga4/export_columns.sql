{#- The export columns the warehouse reads, selected by name (never by position), with the
    name (staging's) and type each is cast to. `money`: an amount, stored exactly
    (ga4_money) once its row is recorded; staging keeps the export's FLOAT64, NaN and
    infinities included, so that the quarantine sees them. `paths` lists where the value may sit, first found wins; a path the
    export does not have (the 2020-21 sample lacks the newer columns) becomes a typed null,
    so the models build on every export vintage (pitfall 7). -#}
{% macro ga4_export_columns() -%}
    {{ return([
        {'name': 'event_date_raw', 'paths': ['event_date'], 'type': 'string'},
        {'name': 'event_timestamp_micros', 'paths': ['event_timestamp'], 'type': 'int'},
        {'name': 'event_name', 'paths': ['event_name'], 'type': 'string'},
        {'name': 'event_previous_timestamp_micros', 'paths': ['event_previous_timestamp'], 'type': 'int'},
        {'name': 'event_value_in_usd', 'paths': ['event_value_in_usd'], 'type': 'float', 'money': true},
        {'name': 'event_bundle_sequence_id', 'paths': ['event_bundle_sequence_id'], 'type': 'int'},
        {'name': 'event_server_timestamp_offset_micros', 'paths': ['event_server_timestamp_offset'], 'type': 'int'},
        {'name': 'user_id', 'paths': ['user_id'], 'type': 'string'},
        {'name': 'user_pseudo_id', 'paths': ['user_pseudo_id'], 'type': 'string'},
        {'name': 'privacy_analytics_storage', 'paths': ['privacy_info.analytics_storage'], 'type': 'string'},
        {'name': 'privacy_ads_storage', 'paths': ['privacy_info.ads_storage'], 'type': 'string'},
        {'name': 'privacy_uses_transient_token', 'paths': ['privacy_info.uses_transient_token'], 'type': 'string'},
        {'name': 'user_first_touch_timestamp_micros', 'paths': ['user_first_touch_timestamp'], 'type': 'int'},
        {'name': 'user_ltv_revenue', 'paths': ['user_ltv.revenue'], 'type': 'float', 'money': true},
        {'name': 'user_ltv_currency', 'paths': ['user_ltv.currency'], 'type': 'string'},
        {'name': 'device_category', 'paths': ['device.category'], 'type': 'string'},
        {'name': 'device_mobile_brand_name', 'paths': ['device.mobile_brand_name'], 'type': 'string'},
        {'name': 'device_mobile_model_name', 'paths': ['device.mobile_model_name'], 'type': 'string'},
        {'name': 'device_operating_system', 'paths': ['device.operating_system'], 'type': 'string'},
        {'name': 'device_operating_system_version', 'paths': ['device.operating_system_version'], 'type': 'string'},
        {'name': 'device_language', 'paths': ['device.language'], 'type': 'string'},
        {'name': 'device_is_limited_ad_tracking', 'paths': ['device.is_limited_ad_tracking'], 'type': 'string'},
        {'name': 'device_browser', 'paths': ['device.web_info.browser', 'device.browser'], 'type': 'string'},
        {'name': 'device_browser_version', 'paths': ['device.web_info.browser_version', 'device.browser_version'], 'type': 'string'},
        {'name': 'geo_continent', 'paths': ['geo.continent'], 'type': 'string'},
        {'name': 'geo_sub_continent', 'paths': ['geo.sub_continent'], 'type': 'string'},
        {'name': 'geo_country', 'paths': ['geo.country'], 'type': 'string'},
        {'name': 'geo_region', 'paths': ['geo.region'], 'type': 'string'},
        {'name': 'geo_city', 'paths': ['geo.city'], 'type': 'string'},
        {'name': 'geo_metro', 'paths': ['geo.metro'], 'type': 'string'},
        {'name': 'app_id', 'paths': ['app_info.id'], 'type': 'string'},
        {'name': 'app_version', 'paths': ['app_info.version'], 'type': 'string'},
        {'name': 'first_touch_source', 'paths': ['traffic_source.source'], 'type': 'string'},
        {'name': 'first_touch_medium', 'paths': ['traffic_source.medium'], 'type': 'string'},
        {'name': 'first_touch_campaign', 'paths': ['traffic_source.name'], 'type': 'string'},
        {'name': 'stream_id', 'paths': ['stream_id'], 'type': 'string'},
        {'name': 'platform', 'paths': ['platform'], 'type': 'string'},
        {'name': 'ecommerce_total_item_quantity', 'paths': ['ecommerce.total_item_quantity'], 'type': 'int'},
        {'name': 'ecommerce_purchase_revenue_in_usd', 'paths': ['ecommerce.purchase_revenue_in_usd'], 'type': 'float', 'money': true},
        {'name': 'ecommerce_purchase_revenue', 'paths': ['ecommerce.purchase_revenue'], 'type': 'float', 'money': true},
        {'name': 'ecommerce_refund_value', 'paths': ['ecommerce.refund_value'], 'type': 'float', 'money': true},
        {'name': 'ecommerce_shipping_value', 'paths': ['ecommerce.shipping_value'], 'type': 'float', 'money': true},
        {'name': 'ecommerce_tax_value', 'paths': ['ecommerce.tax_value'], 'type': 'float', 'money': true},
        {'name': 'ecommerce_unique_items', 'paths': ['ecommerce.unique_items'], 'type': 'int'},
        {'name': 'ecommerce_transaction_id', 'paths': ['ecommerce.transaction_id'], 'type': 'string'},
        {'name': 'collected_source', 'paths': ['collected_traffic_source.manual_source'], 'type': 'string'},
        {'name': 'collected_medium', 'paths': ['collected_traffic_source.manual_medium'], 'type': 'string'},
        {'name': 'collected_campaign', 'paths': ['collected_traffic_source.manual_campaign_name'], 'type': 'string'},
        {'name': 'collected_gclid', 'paths': ['collected_traffic_source.gclid'], 'type': 'string'},
        {'name': 'is_active_user', 'paths': ['is_active_user'], 'type': 'bool'},
        {'name': 'batch_event_index', 'paths': ['batch_event_index'], 'type': 'int'},
        {'name': 'batch_page_id', 'paths': ['batch_page_id'], 'type': 'int'},
        {'name': 'batch_ordering_id', 'paths': ['batch_ordering_id'], 'type': 'int'},
        {'name': 'last_click_source', 'paths': ['session_traffic_source_last_click.manual_campaign.source', 'session_traffic_source_last_click.cross_channel_campaign.source'], 'type': 'string'},
        {'name': 'last_click_medium', 'paths': ['session_traffic_source_last_click.manual_campaign.medium', 'session_traffic_source_last_click.cross_channel_campaign.medium'], 'type': 'string'},
        {'name': 'last_click_campaign', 'paths': ['session_traffic_source_last_click.manual_campaign.campaign_name', 'session_traffic_source_last_click.cross_channel_campaign.campaign_name'], 'type': 'string'},
        {'name': 'last_click_channel_group', 'paths': ['session_traffic_source_last_click.cross_channel_campaign.default_channel_group'], 'type': 'string'},
    ]) }}
{%- endmacro %}


{#- The fields of a STRUCT type text: {name: type text}. Splits at top-level commas only. -#}
{% macro truffle_struct_fields(type_text) -%}
    {%- set text = type_text.strip() -%}
    {%- if not text.upper().startswith('STRUCT(') or not text.endswith(')') -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set state = namespace(depth=0, current='', parts=[]) -%}
    {%- for char in text[7:-1] -%}
        {%- if char == '(' -%}{%- set state.depth = state.depth + 1 -%}{%- endif -%}
        {%- if char == ')' -%}{%- set state.depth = state.depth - 1 -%}{%- endif -%}
        {%- if char == ',' and state.depth == 0 -%}
            {%- do state.parts.append(state.current) -%}
            {%- set state.current = '' -%}
        {%- else -%}
            {%- set state.current = state.current ~ char -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do state.parts.append(state.current) -%}
    {%- set fields = {} -%}
    {%- for part in state.parts -%}
        {%- set name, _, field_type = part.strip().partition(' ') -%}
        {%- do fields.update({name.strip('"'): field_type.strip()}) -%}
    {%- endfor -%}
    {{ return(fields) }}
{%- endmacro %}


{#- Is a dotted path present in an export whose top-level columns have these types?
    `columns` maps column name -> engine type text (DuckDB DESCRIBE output, or the declared
    BigQuery schema); nested fields are looked up in the STRUCT text. A column typed "NULL"
    (the JSON reader's type for an always-null field) counts as absent. -#}
{% macro ga4_path_available(path, columns) -%}
    {%- set parts = path.split('.') -%}
    {%- set cursor = namespace(type_text=columns.get(parts[0])) -%}
    {%- for part in parts[1:] -%}
        {%- if cursor.type_text is none -%}{{ return(false) }}{%- endif -%}
        {%- set cursor.type_text = truffle_struct_fields(cursor.type_text).get(part) -%}
    {%- endfor -%}
    {{ return(cursor.type_text is not none and cursor.type_text.strip('"').upper() != 'NULL') }}
{%- endmacro %}


{#- The select list of the canonical columns for an export relation with these columns. -#}
{% macro ga4_export_select_list(columns) -%}
    {%- for column in ga4_export_columns() -%}
        {%- set found = [] -%}
        {%- for path in column.paths -%}
            {%- if ga4_path_available(path, columns) -%}{%- do found.append(path) -%}{%- endif -%}
        {%- endfor -%}
        {%- if found | length == 0 %}
        cast(null as {{ truffle_type(column.type) }}) as {{ column.name }},
        {%- elif found | length == 1 %}
        {{ truffle_safe_cast(found[0], column.type) }} as {{ column.name }},
        {%- else %}
        coalesce(
            {%- for path in found %}
            {{ truffle_safe_cast(path, column.type) }}{{ ',' if not loop.last }}
            {%- endfor %}
        ) as {{ column.name }},
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}
