{#- The quarantine: why a staged export row cannot be used, in one place. The staging model
    keeps every such row, with its reason, out of the marts (stg_ga4__events_quarantined);
    the first reason that applies wins:

    - malformed_record: a line that is not a JSON object (cut, invalid, or valid JSON that is
      an array, a string, a number or null); its text is kept in raw_record;
    - invalid_event_date: no parseable event_date (the row falls back to its shard's day);
    - future_event_date: an event_date after the property's today;
    - event_date_outside_shard: an event_date other than its shard's day (GA4 writes each
      day's events to that day's table: a 1970 row in a 2026 table is damage);
    - missing_event_name, missing_event_timestamp;
    - invalid_event_timestamp: event_timestamp outside what a TIMESTAMP holds (years 1 to
      9999; 2^63-1 is one);
    - timestamp_outside_event_date: a timestamp days away from event_date (more than the
      time-zone offset allows);
    - invalid_revenue: any amount (ga4_amount_columns) NaN, infinite, negative or above
      `ga4_max_event_revenue` (1e8). -#}

{#- The staged columns that carry an amount of money or an event value. -#}
{% macro ga4_amount_columns() -%}
    {{ return([
        'event_value_in_usd',
        'ecommerce_purchase_revenue',
        'ecommerce_purchase_revenue_in_usd',
        'ecommerce_refund_value',
        'ecommerce_shipping_value',
        'ecommerce_tax_value',
        'param_value',
        'user_ltv_revenue',
    ]) }}
{%- endmacro %}

{#- SQL: the amount is present and not a sane amount. Written so NaN fails it on both
    engines: DuckDB orders NaN above every number (fails `<= max`), BigQuery compares NaN
    false (fails `>= 0`); +inf fails `<= max`, -inf fails `>= 0`. -#}
{% macro ga4_invalid_amount(column) -%}
    ({{ column }} is not null and not ({{ column }} >= 0 and {{ column }} <= {{ var('ga4_max_event_revenue', 100000000) }}))
{%- endmacro %}

{#- SQL: the row's event_date: its shard's day, which is the row's own event_date for every
    usable row (a row whose own date is missing, in the future or another day is quarantined,
    and stays in its shard's partition: no stray 2099 or 1970 partition, nothing cut by the
    window, the same on every path). -#}
{% macro ga4_event_date(event_date_raw, table_suffix) -%}
    coalesce({{ date_from_yyyymmdd(table_suffix) }}, {{ date_from_yyyymmdd(event_date_raw) }})
{%- endmacro %}

{#- SQL: the quarantine reason of a typed staged row, or null. -#}
{% macro ga4_quarantine_reason() -%}
    case
        when raw_record is not null then 'malformed_record'
        when parsed_event_date is null then 'invalid_event_date'
        when parsed_event_date > {{ ga4_property_today_sql() }} then 'future_event_date'
        when parsed_event_date != event_date then 'event_date_outside_shard'
        when event_name is null or event_name = '' then 'missing_event_name'
        when event_timestamp_micros is null then 'missing_event_timestamp'
        when event_at is null then 'invalid_event_timestamp'
        when abs({{ truffle_days_between('parsed_event_date', 'cast(event_at as date)') }}) > 1
            then 'timestamp_outside_event_date'
        when
            {%- for column in ga4_amount_columns() %}
            {{ ga4_invalid_amount(column) }}{{ ' or' if not loop.last }}
            {%- endfor %}
            then 'invalid_revenue'
    end
{%- endmacro %}

{#- Key parts that keep every unparsed row apart: its file and line (two identical broken
    lines are two quarantined rows, never one "duplicate"). Null for parsed rows. -#}
{% macro ga4_unparsed_row_locator() -%}
    {{ return([
        'case when raw_record is not null then source_file end',
        'case when raw_record is not null then source_row_number end',
    ]) }}
{%- endmacro %}
