{#- The delete guard: every destructive step (retention, erasure) asks it before deleting.

    It counts the rows the step's `predicate` would remove from `relation` (in the model's own
    transaction, so the count is exactly what the DELETE then removes) and
    - returns false when there is nothing to remove (the step then sends no DML at all), or
      when the run skips destructive steps (`ga4_skip_deletes`: truffle sets it when the
      freshness check failed);
    - refuses, failing the model before anything is deleted, when the step would remove rows
      from the newest `ga4_delete_guard_recent_days` (30) days of the table (`check_recent`;
      retention only: an erasure request names its rows on purpose) or, on an incremental
      run, more than `ga4_delete_guard_max_share` (0.25) of the table's rows, unless
      `ga4_allow_deletes` (truffle: --allow-deletes) is true;
    - reports what it removes: a log line for people and a `TRUFFLE_DELETES {json}` debug
      line that truffle collects into its run summary; with `by_day` (a day expression and a
      row weight, e.g. staging's source_table_suffix and raw_row_count) also per day, and with
      a property expression third (property_id) per property and day (by_property_day). -#}
{% macro truffle_guard_delete(relation, step, date_column, predicate, check_recent=false, detail='', by_day=none) -%}
    {%- set name = relation.identifier -%}
    {%- if var('ga4_skip_deletes', false) -%}
        {%- do log('TRUFFLE_DELETES ' ~ tojson({'table': name, 'step': step, 'rows': 0, 'skipped': true}), info=false) -%}
        {%- do log(name ~ ': ' ~ step ~ ' skipped (destructive steps are off for this run)', info=true) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set counted = run_query(truffle_lookup_name(step ~ ' count') ~ ' select count(*) from ' ~ relation ~ ' where ' ~ predicate) -%}
    {%- set removed = counted.rows[0][0] | int -%}
    {%- if removed == 0 -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set recent_days = var('ga4_delete_guard_recent_days', 30) | int -%}
    {%- set kept = truffle_table_profile(relation, date_column) -%}
    {%- set newest = kept[0] -%}
    {%- set recent_from = date_literal(truffle_parse_date((newest | string)[:10]) - modules.datetime.timedelta(days=recent_days)) if newest else none -%}
    {%- set profile -%}
        with doomed as (
            select {{ date_column }} as day from {{ relation }} where {{ predicate }}
        )
        select
            {{ 'count(case when day > ' ~ recent_from ~ ' then 1 end)' if recent_from else '0' }} as recent_rows,
            min(day) as first_day,
            max(day) as last_day
        from doomed
    {%- endset -%}
    {%- set found = run_query(profile).rows[0] -%}
    {%- set total = kept[1] | int -%}
    {%- set recent = found[0] | int -%}
    {%- set first_day, last_day = found[1], found[2] -%}
    {%- set share = removed / total if total else 1 -%}
    {%- set max_share = var('ga4_delete_guard_max_share', 0.25) | float -%}
    {%- set report = {'table': name, 'step': step, 'rows': removed, 'table_rows': total,
                      'recent_rows': recent, 'first_day': first_day | string, 'last_day': last_day | string} -%}
    {%- if not var('ga4_allow_deletes', false) -%}
        {%- set reasons = [] -%}
        {%- if check_recent and recent > 0 -%}
            {%- do reasons.append(recent ~ ' of them from the newest ' ~ recent_days ~ ' days (newest ' ~ newest ~ ')') -%}
        {%- endif -%}
        {%- if ga4_is_incremental() and share > max_share -%}
            {%- do reasons.append('more than ' ~ (max_share * 100) | round(1) ~ '% of the table') -%}
        {%- endif -%}
        {%- if reasons -%}
            {%- do report.update({'refused': true}) -%}
            {%- do log('TRUFFLE_DELETES ' ~ tojson(report), info=false) -%}
            {{ exceptions.raise_compiler_error(step ~ ' refused on ' ~ name ~ ': it would delete ' ~ removed ~ ' of ' ~ total ~ ' rows (' ~ (reasons | join('; ')) ~ '; ' ~ detail ~ '). Check the run date and the retention settings, or pass --allow-deletes (var ga4_allow_deletes: true) if this is meant.') }}
        {%- endif -%}
    {%- endif -%}
    {%- if by_day -%}
        {#- (day expression, weight expression[, property expression]): what is removed per
            export day (and per property: by_property_day) -#}
        {%- set days = {} -%}
        {%- set per_property = {} -%}
        {%- set grouped = by_day[:1] + by_day[2:3] -%}
        {%- for day_row in run_query('select sum(' ~ by_day[1] ~ '), ' ~ grouped | join(', ') ~ ' from ' ~ relation ~ ' where ' ~ predicate ~ ' group by ' ~ grouped | join(', ')).rows -%}
            {%- set day = day_row[1] | string -%}
            {%- do days.update({day: days.get(day, 0) + day_row[0] | int}) -%}
            {%- if grouped | length > 1 -%}
                {%- do per_property.setdefault(day_row[2] | string, {}).update({day: day_row[0] | int}) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do report.update({'by_day': days}) -%}
        {%- if by_day | length > 2 -%}
            {%- do report.update({'by_property_day': per_property}) -%}
        {%- endif -%}
    {%- endif -%}
    {%- do log('TRUFFLE_DELETES ' ~ tojson(report), info=false) -%}
    {%- do log(name ~ ': ' ~ step ~ ' removes ' ~ removed ~ ' of ' ~ total ~ ' rows (' ~ first_day ~ ' to ' ~ last_day ~ '; ' ~ detail ~ ')', info=true) -%}
    {{ return(true) }}
{%- endmacro %}


{#- The table's newest day in `date_column` and its row count, for the delete guard: on
    BigQuery from the table's partition metadata (INFORMATION_SCHEMA.PARTITIONS: no table
    data is read, so a guard costs the same at any history), elsewhere by a query. -#}
{% macro truffle_table_profile(relation, date_column) -%}
    {{ return(adapter.dispatch('truffle_table_profile', 'random_truffle')(relation, date_column)) }}
{%- endmacro %}

{% macro default__truffle_table_profile(relation, date_column) -%}
    {%- set row = run_query('select max(' ~ date_column ~ '), count(*) from ' ~ relation).rows[0] -%}
    {{ return([row[0], row[1] | int]) }}
{%- endmacro %}

{% macro bigquery__truffle_table_profile(relation, date_column) -%}
    {%- set query -%}
        select
            max(case when total_rows > 0 then safe.parse_date('%Y%m%d', partition_id) end),
            coalesce(sum(total_rows), 0)
        from `{{ relation.database }}`.`{{ relation.schema }}`.INFORMATION_SCHEMA.PARTITIONS
        where table_name = {{ truffle_string_literal(relation.identifier) }}
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {{ return([row[0], row[1] | int]) }}
{%- endmacro %}


{#- Whether any of `days` (Python dates) of the date-partitioned `relation` holds a row: on
    BigQuery from INFORMATION_SCHEMA.PARTITIONS (no table data read); elsewhere true (no
    partition metadata: the delete guard's count decides). -#}
{% macro truffle_days_hold_rows(relation, days) -%}
    {{ return(adapter.dispatch('truffle_days_hold_rows', 'random_truffle')(relation, days)) }}
{%- endmacro %}

{% macro default__truffle_days_hold_rows(relation, days) -%}
    {{ return(true) }}
{%- endmacro %}

{% macro bigquery__truffle_days_hold_rows(relation, days) -%}
    {%- set partition_ids = [] -%}
    {%- for day in days -%}
        {%- do partition_ids.append(truffle_string_literal(day.strftime('%Y%m%d'))) -%}
    {%- endfor -%}
    {%- set query -%}
        {{ truffle_lookup_name('retention partitions') }}
        select count(*)
        from `{{ relation.database }}`.`{{ relation.schema }}`.INFORMATION_SCHEMA.PARTITIONS
        where
            table_name = {{ truffle_string_literal(relation.identifier) }}
            and partition_id in ({{ partition_ids | join(', ') }})
            and total_rows > 0
    {%- endset -%}
    {{ return((run_query(query).rows[0][0] | int) > 0) }}
{%- endmacro %}
