{#- The re-processed window: which export days a run reads and which partitions it replaces.

    GA4 rewrites daily tables for up to 72 hours after the day, so every incremental run
    rebuilds the `ga4_lookback_days` days before the run date plus the run date itself
    (pitfall 4). "Today" is the property's local date (pitfall 9): event_date is local too.
    A backfill names its range explicitly (incremental runs only: when the table does not
    exist yet, or on --full-refresh, everything is read). A full refresh reads from
    `ga4_start_date` on.
    Everything is computed at compile time, so the SQL carries literal dates: BigQuery can
    prune `_TABLE_SUFFIX` and name static partitions, DuckDB can skip whole files. -#}

{% macro truffle_parse_date(value) -%}
    {{ return(modules.datetime.datetime.strptime(value | string, '%Y-%m-%d').date()) }}
{%- endmacro %}

{#- A property's date today (`property`: one of ga4_properties(); none: the first), computed
    once per call at compile time. -#}
{% macro ga4_property_today(property=none) -%}
    {%- set property = property or ga4_properties()[0] -%}
    {%- set tz = modules.pytz.timezone(property.time_zone) -%}
    {{ return(modules.datetime.datetime.now(tz).date()) }}
{%- endmacro %}

{#- SQL: the row's property's date today (`column`: its property_id); one property: a literal. -#}
{% macro ga4_property_today_sql(column='property_id') -%}
    {%- set values = {} -%}
    {%- for property in ga4_properties() -%}
        {%- do values.update({property.property_id: date_literal(ga4_property_today(property))}) -%}
    {%- endfor -%}
    {{ return(ga4_property_case(column, values)) }}
{%- endmacro %}

{#- A property's run date: `ga4_run_date`, else its date today. A run date after today in
    every property is a typo, and a run built on it would count retention from the future:
    refused before anything runs. Several properties in time zones a day apart: a run date
    that is today in one is tomorrow in another, which runs up to its own today. -#}
{% macro ga4_property_run_date(property) -%}
    {%- set today = ga4_property_today(property) -%}
    {%- set configured = var('ga4_run_date', none) -%}
    {%- if not configured -%}
        {{ return(today) }}
    {%- endif -%}
    {%- set run_date = truffle_parse_date(configured) -%}
    {%- set latest = namespace(day=today, zone=property.time_zone) -%}
    {%- for other in ga4_properties() -%}
        {%- set other_today = ga4_property_today(other) -%}
        {%- if other_today > latest.day -%}
            {%- set latest.day = other_today -%}
            {%- set latest.zone = other.time_zone -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if run_date > latest.day -%}
        {{ exceptions.raise_compiler_error("ga4_run_date " ~ run_date ~ " is in the future (today is " ~ latest.day ~ " in " ~ latest.zone ~ "): fix the run date.") }}
    {%- endif -%}
    {{ return([run_date, today] | min) }}
{%- endmacro %}

{#- The run date: the latest of the properties' run dates (one property: `ga4_run_date`, else
    today in its time zone). -#}
{% macro ga4_run_date() -%}
    {%- set dates = [] -%}
    {%- for property in ga4_properties() -%}
        {%- do dates.append(ga4_property_run_date(property)) -%}
    {%- endfor -%}
    {{ return(dates | max) }}
{%- endmacro %}

{#- is_incremental(), or forced by a variable so the incremental form can be rendered offline.
    is_incremental() looks the model's table up in the warehouse; with `ga4_render_offline`
    nothing is looked up (an offline BigQuery compile has no warehouse to ask), and the form is
    the one `ga4_render_incremental` names. -#}
{% macro ga4_is_incremental() -%}
    {%- if var('ga4_render_incremental', false) -%}
        {{ return(true) }}
    {%- elif var('ga4_render_offline', false) -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(is_incremental()) }}
{%- endmacro %}

{#- The window a nightly of the run date re-processes: each property's run date and the
    `ga4_lookback_days` before it, whatever range this run itself covers. Several properties:
    the days of any refreshed property's window (ga4_refreshed_properties), every refreshed
    property read over all of them, and the models built from staging derive each day again
    from what staging holds for every property. -#}
{% macro ga4_nightly_window() -%}
    {%- set dates = [] -%}
    {%- for property in ga4_refreshed_properties() -%}
        {%- do dates.append(ga4_property_run_date(property)) -%}
    {%- endfor -%}
    {%- set start = (dates | min) - modules.datetime.timedelta(days=var('ga4_lookback_days', 3) | int) -%}
    {{ return({'start': start, 'end': dates | max, 'kind': 'window'}) }}
{%- endmacro %}

{#- Returns {'start': date|none, 'end': date|none, 'kind': 'full'|'window'|'backfill'}, for
    the model being built (`incremental` none) or as an incremental run would see it (true). -#}
{% macro ga4_window(incremental=none) -%}
    {%- set incremental = ga4_is_incremental() if incremental is none else incremental -%}
    {%- set backfill_start = var('ga4_backfill_start_date', none) -%}
    {%- set backfill_end = var('ga4_backfill_end_date', none) -%}
    {#- a backfill re-processes part of an existing table; a full build reads everything -#}
    {%- if (backfill_start or backfill_end) and incremental -%}
        {%- if not (backfill_start and backfill_end) -%}
            {{ exceptions.raise_compiler_error("A backfill needs both ga4_backfill_start_date and ga4_backfill_end_date (YYYY-MM-DD).") }}
        {%- endif -%}
        {%- set start = truffle_parse_date(backfill_start) -%}
        {%- set end = truffle_parse_date(backfill_end) -%}
        {%- if start > end -%}
            {{ exceptions.raise_compiler_error("ga4_backfill_start_date " ~ start ~ " is after ga4_backfill_end_date " ~ end ~ ".") }}
        {%- endif -%}
        {{ return({'start': start, 'end': end, 'kind': 'backfill'}) }}
    {%- endif -%}
    {%- if incremental -%}
        {{ return(ga4_nightly_window()) }}
    {%- endif -%}
    {%- set first = var('ga4_start_date', none) -%}
    {{ return({'start': truffle_parse_date(first) if first else none, 'end': none, 'kind': 'full'}) }}
{%- endmacro %}

{#- SQL predicate: `column` (a date) lies in the window, optionally widened by
    `extra_days_before` / `extra_days_after` (sessions read their neighbours' events so that
    a session crossing midnight at either edge of the window is whole). On a full refresh
    without a start date: every partition (`true`; on BigQuery the every-partition filter,
    which a table with require_partition_filter needs). -#}
{% macro ga4_window_filter(column, extra_days_before=0, extra_days_after=0, incremental=none) -%}
    {%- set window = ga4_window(incremental) -%}
    {%- set clauses = [] -%}
    {%- if window.start -%}
        {%- set start = window.start - modules.datetime.timedelta(days=extra_days_before) -%}
        {%- do clauses.append(column ~ " >= " ~ date_literal(start)) -%}
    {%- endif -%}
    {%- if window.end -%}
        {%- set end = window.end + modules.datetime.timedelta(days=extra_days_after) -%}
        {%- do clauses.append(column ~ " <= " ~ date_literal(end)) -%}
    {%- endif -%}
    {{ clauses | join(' and ') if clauses else (truffle_every_partition_filter(column) or 'true') }}
{%- endmacro %}


{#- Sessions are whole on every path (pitfall 3, and GA4 sessions whose events lie days apart).
    A session's row is keyed, not dated: an incremental run rebuilds every session *touched*
    by the window (any event in it, or a stored row overlapping it), each from all its events,
    wherever its start day lies, and replaces those rows by key (DuckDB delete+insert, BigQuery
    merge bounded to the reach below).

    The reach follows the data, not a constant: a touched session can only have begun as far
    before the window as its events say (ga_session_id is the session's start, Unix seconds),
    so the stored sessions are looked up from the day before the window, or earlier only when
    an event of the window belongs to a session begun earlier; never more than
    `ga4_session_max_span_days` (30) before it. A night whose sessions all began in the window
    or the day before reads the window ±1 day and nothing else. A session whose events lie
    further apart than the span, or whose events precede its own ga_session_id by more than a
    day, is rebuilt from the part in reach. -#}
{% macro ga4_session_span_days() -%}
    {{ return(var('ga4_session_max_span_days', 30) | int) }}
{%- endmacro %}

{#- How many whole days before its event a session of the window's events began (the
    event's time minus its ga_session_id, looked up over the window's recorded events, or
    `events` where `scope`), at most the span; 0 when nothing is looked up (offline).
    The window's figure is sent once per dbt invocation (truffle_lookup_once): the four
    session-keyed models (the sessions' intermediate, its conversions, the converted
    sessions, the users' state) each ask for it, and it reads only staging and the erased
    identities, which every one of them depends on and nothing after them writes. -#}
{% macro ga4_session_lag_days(incremental=none, events=none, scope=none) -%}
    {%- if not execute or var('ga4_render_offline', false) -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set where = (scope or ga4_window_filter('event_date', incremental=incremental)) ~ ' and session_key is not null' -%}
    {%- set lag_lookup -%}
        select max(floor(
            (event_timestamp_micros / 1000000 - {{ truffle_safe_cast('ga_session_id', 'int') }}) / 86400
        ))
        {%- if events is not none %}
        from {{ events }}
        where {{ where }}
        {%- else %}
        from ({{ ga4_recorded_events(where, ['event_timestamp_micros', 'ga_session_id']) }}) as recorded_events
        {%- endif %}
    {%- endset -%}
    {%- set lag = (truffle_lookup_once(lag_lookup) if events is none and scope is none else run_query(lag_lookup)).rows[0][0] -%}
    {{ return([[(lag or 0) | int, 0] | max, ga4_session_span_days()] | min) }}
{%- endmacro %}

{#- SQL: the keys of the sessions touched by the window, given the stored sessions;
    `stored_from`: the first start day a touched stored session can have (the reach's). -#}
{% macro ga4_touched_session_keys(stored_sessions, stored_from=none, incremental=none) -%}
    {%- set window = ga4_window(incremental) -%}
    {%- set stored_from = stored_from or window.start - modules.datetime.timedelta(days=1) -%}
    {{ ga4_recorded_events(ga4_window_filter('event_date', incremental=incremental) ~ ' and session_key is not null', ['session_key']) }}
    union all
    select session_key from {{ stored_sessions }}
    where
        session_start_date >= {{ date_literal(stored_from) }}
        and session_start_date <= {{ date_literal(window.end) }}
        and session_end_date >= {{ date_literal(window.start) }}
{%- endmacro %}

{#- The dates an incremental session rebuild reads ({'start', 'end', 'stored_from'}, Python
    dates): the window and the day before it, widened to the first start and last end of the
    stored sessions it touches (looked up when the run executes; offline, the window and the
    day before). `stored_from` bounds the lookups of stored sessions and the MERGE's scan of
    them. None on a full build. `shared`: the lookup is sent once per dbt invocation
    (truffle_lookup_once) for the nodes that pass it: the conversions' intermediate and the
    converted sessions, which run in that order (the second refs the first) with no write to
    the stored sessions between them; the users' state's plan looks it up again, after the
    converted sessions' retention DELETE on the same table. -#}
{% macro ga4_session_reach(stored_sessions, incremental=none, shared=false) -%}
    {%- set window = ga4_window(incremental) -%}
    {%- if window.kind == 'full' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set day = modules.datetime.timedelta(days=1) -%}
    {%- set reach = {'start': window.start - day, 'end': window.end, 'stored_from': window.start - day} -%}
    {%- if execute and not var('ga4_render_offline', false) -%}
        {%- set lag = ga4_session_lag_days(incremental) -%}
        {%- do reach.update({'stored_from': window.start - modules.datetime.timedelta(days=lag + 1)}) -%}
        {%- set lookup -%}
            select min(session_start_date), max(session_end_date)
            from {{ stored_sessions }}
            where
                session_start_date >= {{ date_literal(reach.stored_from) }}
                and session_start_date <= {{ date_literal(window.end) }}
                and session_key in ({{ ga4_touched_session_keys(stored_sessions, reach.stored_from, incremental) }})
        {%- endset -%}
        {%- set found = (truffle_lookup_once(lookup) if shared else run_query(lookup)).rows[0] -%}
        {%- if found[0] is not none -%}
            {%- do reach.update({'start': [reach.start, found[0]] | min, 'end': [reach.end, found[1]] | max}) -%}
        {%- endif -%}
    {%- endif -%}
    {#- the MERGE dbt generates scans the stored sessions from here (bq_generate_incremental_build_sql) -#}
    {%- do reach.update({'marker': '/* ga4_session_stored_from ' ~ reach.stored_from ~ ' */'}) -%}
    {{ return(reach) }}
{%- endmacro %}

{#- Post-hook of the session models: a stored session that began in the window but whose
    events are gone from it (the export day was rewritten) is deleted; every other touched
    session was replaced by key. -#}
{% macro ga4_drop_vanished_sessions() -%}
    {%- if execute and ga4_is_incremental() and not var('ga4_render_incremental', false) -%}
    delete from {{ this }}
    where
        {{ ga4_window_filter('session_start_date') }}
        and session_key not in (
            {{ ga4_recorded_events(ga4_window_filter('event_date') ~ ' and session_key is not null', ['session_key']) }}
        )
    {%- else -%}
    select 1 as nothing_vanished
    {%- endif -%}
{%- endmacro %}

{#- SQL predicate: `column` (a date) lies in the reach of an incremental session rebuild,
    widened by `extra_days_before` / `extra_days_after`; without a reach (full builds), in
    the window (ga4_window_filter). -#}
{% macro ga4_reach_filter(reach, column, extra_days_before=0, extra_days_after=0) -%}
    {%- if reach -%}
        {{ column }} >= {{ date_literal(reach.start - modules.datetime.timedelta(days=extra_days_before)) }}
        and {{ column }} <= {{ date_literal(reach.end + modules.datetime.timedelta(days=extra_days_after)) }}
    {%- else -%}
        {{ ga4_window_filter(column, extra_days_before=extra_days_before, extra_days_after=extra_days_after) }}
    {%- endif -%}
{%- endmacro %}

{#- SQL predicate on a session model's rows: incremental runs keep the sessions the window
    touched (by key, given the stored sessions; `in_reach`: rows whose start lies in the reach,
    so a partitioned table is pruned), full builds those that began in the range. -#}
{% macro ga4_session_rows_filter(reach, stored_sessions, in_reach=false) -%}
    {%- if reach -%}
        {{ ga4_reach_filter(reach, 'session_start_date') ~ ' and ' if in_reach }}session_key in ({{ ga4_touched_session_keys(stored_sessions, reach.stored_from) }})
    {%- else -%}
        {{ ga4_window_filter('session_start_date') }}
    {%- endif -%}
{%- endmacro %}
