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
      row weight, e.g. staging's source_table_suffix and raw_row_count) also per day. -#}
{% macro truffle_guard_delete(relation, step, date_column, predicate, check_recent=false, detail='', by_day=none) -%}
    {%- set name = relation.identifier -%}
    {%- if var('ga4_skip_deletes', false) -%}
        {%- do log('TRUFFLE_DELETES ' ~ tojson({'table': name, 'step': step, 'rows': 0, 'skipped': true}), info=false) -%}
        {%- do log(name ~ ': ' ~ step ~ ' skipped (destructive steps are off for this run)', info=true) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set every = truffle_every_partition_filter(date_column) -%}
    {%- set counted = run_query('select count(*) from ' ~ relation ~ ' where ' ~ predicate) -%}
    {%- set removed = counted.rows[0][0] | int -%}
    {%- if removed == 0 -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set recent_days = var('ga4_delete_guard_recent_days', 30) | int -%}
    {%- set profile -%}
        with doomed as (
            select {{ date_column }} as day from {{ relation }} where {{ predicate }}
        ),
        kept as (
            select max({{ date_column }}) as newest, count(*) as total_rows
            from {{ relation }}
            {%- if every %}
            where {{ every }}
            {%- endif %}
        )
        select
            kept.newest,
            kept.total_rows,
            (select count(*) from doomed where doomed.day > {{ dbt.dateadd('day', -recent_days, 'kept.newest') }}) as recent_rows,
            (select min(doomed.day) from doomed) as first_day,
            (select max(doomed.day) from doomed) as last_day
        from kept
    {%- endset -%}
    {%- set row = run_query(profile).rows[0] -%}
    {%- set total = row[1] | int -%}
    {%- set recent = row[2] | int -%}
    {%- set share = removed / total if total else 1 -%}
    {%- set max_share = var('ga4_delete_guard_max_share', 0.25) | float -%}
    {%- set report = {'table': name, 'step': step, 'rows': removed, 'table_rows': total,
                      'recent_rows': recent, 'first_day': row[3] | string, 'last_day': row[4] | string} -%}
    {%- if not var('ga4_allow_deletes', false) -%}
        {%- set reasons = [] -%}
        {%- if check_recent and recent > 0 -%}
            {%- do reasons.append(recent ~ ' of them from the newest ' ~ recent_days ~ ' days (newest ' ~ row[0] ~ ')') -%}
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
        {#- (day expression, weight expression): what is removed per export day -#}
        {%- set days = {} -%}
        {%- for day_row in run_query('select ' ~ by_day[0] ~ ', sum(' ~ by_day[1] ~ ') from ' ~ relation ~ ' where ' ~ predicate ~ ' group by 1').rows -%}
            {%- do days.update({day_row[0] | string: day_row[1] | int}) -%}
        {%- endfor -%}
        {%- do report.update({'by_day': days}) -%}
    {%- endif -%}
    {%- do log('TRUFFLE_DELETES ' ~ tojson(report), info=false) -%}
    {%- do log(name ~ ': ' ~ step ~ ' removes ' ~ removed ~ ' of ' ~ total ~ ' rows (' ~ row[3] ~ ' to ' ~ row[4] ~ '; ' ~ detail ~ ')', info=true) -%}
    {{ return(true) }}
{%- endmacro %}
