{#- The state behind user_attributes (int_users_aggregated) and how its rows combine: said
    once here, used by the model that maintains the state and by the view that reads it.

    Each source (sessions, conversions, and the events mart when user properties are declared)
    contributes rows per device / login pair (user_pseudo_id, user_id) and day. A figure is
    either a measure (a sum, min, max or any) or a pick (the first or last non-null value in
    an order, kept with its order columns so two rows' picks combine into the pick of both).
    Rows combine the same way whether the state folds its old days into one settled row per
    pair or the view groups every row of a person (unified_user_id resolved where it is read,
    through the device map). -#}
{% macro ga4_user_state_sources() -%}
    {#- `categories`: the retention categories its rows expire by (the stored conversions
        as transactions; an event by its own, event_retention_categories) -#}
    {%- set every_category = ga4_retention_years() | list -%}
    {%- set sources = [
        {'name': 'sessions', 'relation': ref('sessions'), 'date_column': 'session_start_date',
         'categories': ['user_activity']},
        {'name': 'conversions', 'relation': ref('conversions'), 'date_column': 'conversion_date',
         'categories': ['transaction']},
    ] -%}
    {%- if ga4_declared_user_properties() -%}
        {%- do sources.append({'name': 'events', 'relation': ref('events'), 'date_column': 'event_date',
                               'categories': every_category}) -%}
    {%- endif -%}
    {{ return(sources) }}
{%- endmacro %}

{#- Measures: column, source, SQL over the source's rows, how two rows combine. -#}
{% macro ga4_user_state_measures() -%}
    {{ return([
        {'column': 'lifetime_sessions', 'source': 'sessions', 'compute': 'count(*)', 'combine': 'sum'},
        {'column': 'lifetime_engaged_sessions', 'source': 'sessions', 'compute': truffle_countif('is_engaged_session'), 'combine': 'sum'},
        {'column': 'lifetime_engagement_time_msec', 'source': 'sessions', 'compute': 'sum(engagement_time_msec)', 'combine': 'sum'},
        {'column': 'lifetime_page_views', 'source': 'sessions', 'compute': 'sum(page_view_count)', 'combine': 'sum'},
        {'column': 'first_seen_at', 'source': 'sessions', 'compute': 'min(session_start_at)', 'combine': 'min'},
        {'column': 'last_seen_at', 'source': 'sessions', 'compute': 'max(session_end_at)', 'combine': 'max'},
        {'column': 'first_seen_date', 'source': 'sessions', 'compute': 'min(session_start_date)', 'combine': 'min'},
        {'column': 'last_seen_date', 'source': 'sessions', 'compute': 'max(session_start_date)', 'combine': 'max'},
        {'column': 'is_active_user', 'source': 'sessions', 'compute': dbt.bool_or('is_active_user'), 'combine': 'any'},
        {'column': 'lifetime_conversions', 'source': 'conversions', 'compute': 'count(*)', 'combine': 'sum'},
        {'column': 'lifetime_purchases', 'source': 'conversions', 'compute': truffle_countif("conversion_type = 'purchase'"), 'combine': 'sum'},
        {'column': 'lifetime_revenue_usd', 'source': 'conversions', 'compute': 'sum(revenue_usd)', 'combine': 'sum_money'},
        {'column': 'lifetime_revenue_mxn', 'source': 'conversions', 'compute': 'sum(revenue_mxn)', 'combine': 'sum_money'},
        {'column': 'lifetime_revenue_cop', 'source': 'conversions', 'compute': 'sum(revenue_cop)', 'combine': 'sum_money'},
        {'column': 'last_converted_at', 'source': 'conversions', 'compute': 'max(converted_at)', 'combine': 'max'},
        {'column': 'first_converted_date', 'source': 'conversions', 'compute': 'min(conversion_date)', 'combine': 'min'},
        {'column': 'first_event_date', 'source': 'events', 'compute': 'min(event_date)', 'combine': 'min'},
    ]) }}
{%- endmacro %}

{#- Picks: column, source, the source's expression, first or last, in the source's order
    (sessions: by start, ties broken by the session key; events: by time, then the event key).
    The key breaks ties as a number (truffle_hash_key_number: the order of the keys' text, in
    8 bytes): the state keeps each row's first and last session's order, and 32-character
    keys there were a third of its bytes, read by every night's update and people. -#}
{% macro ga4_user_state_picks() -%}
    {%- set session_order = ['session_start_at', truffle_hash_key_number('session_key')] -%}
    {%- set picks = [] -%}
    {#- the export's traffic_source is the user's first touch (pitfall 6); the first session's
        source stands in where it is missing -#}
    {%- for part, column in [('source', 'first_touch_source'), ('medium', 'first_touch_medium'), ('campaign', 'first_touch_campaign')] -%}
        {%- do picks.append({'column': 'export_first_touch_' ~ part, 'source': 'sessions', 'expression': column, 'direction': 'first', 'order': session_order}) -%}
    {%- endfor -%}
    {%- for part in ['source', 'medium', 'campaign'] -%}
        {%- do picks.append({'column': 'first_session_' ~ part, 'source': 'sessions', 'expression': 'session_' ~ part, 'direction': 'first', 'order': session_order}) -%}
    {%- endfor -%}
    {#- last touch: the latest session's source -#}
    {%- for part in ['source', 'medium', 'campaign'] -%}
        {%- do picks.append({'column': 'last_touch_' ~ part, 'source': 'sessions', 'expression': 'session_' ~ part, 'direction': 'last', 'order': session_order}) -%}
    {%- endfor -%}
    {%- do picks.append({'column': 'last_touch_channel_group', 'source': 'sessions', 'expression': 'session_default_channel_group', 'direction': 'last', 'order': session_order}) -%}
    {%- for column in ['country', 'device_category', 'platform', 'ads_consent_status'] -%}
        {%- do picks.append({'column': column, 'source': 'sessions', 'expression': column, 'direction': 'last', 'order': session_order}) -%}
    {%- endfor -%}
    {#- each declared user property's latest value -#}
    {%- for property in ga4_declared_user_properties() -%}
        {%- do picks.append({'column': property.column, 'source': 'events', 'expression': property.column, 'direction': 'last', 'order': ['event_timestamp_micros', truffle_hash_key_number('event_key')]}) -%}
    {%- endfor -%}
    {{ return(picks) }}
{%- endmacro %}

{#- SQL: a pick over rows, the value non-null first or last in `order`. -#}
{% macro ga4_user_state_pick(direction, expression, order) -%}
    {%- if direction == 'first' -%}
    {{ truffle_first_non_null(expression, order) }}
    {%- else -%}
    {{ truffle_last_non_null(expression, order) }}
    {%- endif -%}
{%- endmacro %}

{#- The orders the picks of a row share: per source and direction, the row's own first or
    last (its first / last session, or event), kept as `<source>_<direction>__order_<n>`.
    A pick whose value came from that row-level first or last keeps null in its order
    columns (most do: the first session's source is the first session's); the order it
    stands for is the row's (coalesce on read). The order columns of every pick would
    otherwise be most of the state's bytes (a timestamp and a session key per pick). An
    order's leading value that a measure already keeps (the first session's start is
    `first_seen_at`: min(session_start_at)) is read from that measure's column (`measures`:
    the group's columns that are measures, not stored again). -#}
{% macro ga4_user_state_row_orders() -%}
    {%- set groups = [] -%}
    {%- set seen = [] -%}
    {%- for pick in ga4_user_state_picks() -%}
        {%- set name = pick.source ~ '_' ~ pick.direction -%}
        {%- if name not in seen -%}
            {%- do seen.append(name) -%}
            {%- set columns = [] -%}
            {%- set measures = [] -%}
            {%- set extreme = 'min' if pick.direction == 'first' else 'max' -%}
            {%- for column in pick.order -%}
                {%- set kept = [] -%}
                {%- set leading = loop.first -%}
                {%- for measure in ga4_user_state_measures() if leading
                    and measure.source == pick.source and measure.combine == extreme
                    and measure.compute == extreme ~ '(' ~ column ~ ')' -%}
                    {%- do kept.append(measure.column) -%}
                {%- endfor -%}
                {%- if kept -%}
                    {%- do columns.append(kept[0]) -%}
                    {%- do measures.append(kept[0]) -%}
                {%- else -%}
                    {%- do columns.append(name ~ '__order_' ~ loop.index) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- do groups.append({'name': name, 'source': pick.source, 'direction': pick.direction,
                                  'order': pick.order, 'columns': columns, 'measures': measures}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(groups) }}
{%- endmacro %}

{#- The row-level order a pick shares (ga4_user_state_row_orders). -#}
{% macro ga4_user_state_row_order(pick) -%}
    {%- for group in ga4_user_state_row_orders() -%}
        {%- if group.name == pick.source ~ '_' ~ pick.direction -%}
            {{ return(group) }}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{#- SQL select items: the figures of one source computed from its rows (`from_source`) or
    the figures of state rows combined (`from_source` none). The other sources' figures are
    null. With `order_columns`, each pick keeps its order (`<pick>__order_<n>`, null where it
    is the row's own, see ga4_user_state_row_orders), to be combined later; without, only
    the value (the person's final answer). -#}
{% macro ga4_user_state_figures(from_source=none, order_columns=true) -%}
    {%- set items = [] -%}
    {%- for measure in ga4_user_state_measures() -%}
        {%- if from_source is none -%}
            {%- set combine = {
                'sum': 'cast(sum(' ~ measure.column ~ ') as ' ~ truffle_type('int') ~ ')',
                'sum_money': 'sum(' ~ measure.column ~ ')',
                'min': 'min(' ~ measure.column ~ ')',
                'max': 'max(' ~ measure.column ~ ')',
                'any': dbt.bool_or(measure.column),
            }[measure.combine] -%}
            {%- do items.append(combine ~ ' as ' ~ measure.column) -%}
        {%- elif measure.source == from_source -%}
            {%- set compute = 'cast(' ~ measure.compute ~ ' as ' ~ truffle_type('int') ~ ')' if measure.combine == 'sum' else measure.compute -%}
            {%- do items.append(compute ~ ' as ' ~ measure.column) -%}
        {%- else -%}
            {%- do items.append('null as ' ~ measure.column) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- each row-level order: over the source's rows, or over the rows combined -#}
    {%- set row_order_sql = {} -%}
    {%- for group in ga4_user_state_row_orders() -%}
        {%- for column in group.columns -%}
            {%- if from_source is none -%}
                {%- set sql = ga4_user_state_pick(group.direction, column, group.columns) -%}
            {%- elif group.source == from_source -%}
                {%- set sql = ga4_user_state_pick(group.direction, group.order[loop.index0], group.order) -%}
            {%- else -%}
                {%- set sql = 'null' -%}
            {%- endif -%}
            {%- do row_order_sql.update({column: sql}) -%}
            {%- if order_columns and column not in group.measures -%}
                {%- do items.append(sql ~ ' as ' ~ column) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for pick in ga4_user_state_picks() -%}
        {%- set kept_order = ga4_user_state_order_columns(pick) -%}
        {%- set row_order = ga4_user_state_row_order(pick).columns -%}
        {%- if from_source is none -%}
            {#- a row's pick order: its own, else the row's -#}
            {%- set order = [] -%}
            {%- for column in kept_order -%}
                {%- do order.append('coalesce(' ~ column ~ ', ' ~ row_order[loop.index0] ~ ')') -%}
            {%- endfor -%}
            {%- do items.append(ga4_user_state_pick(pick.direction, pick.column, order) ~ ' as ' ~ pick.column) -%}
            {%- if order_columns -%}
                {%- for column in kept_order -%}
                    {%- set when_picked = 'case when ' ~ pick.column ~ ' is not null then ' ~ order[loop.index0] ~ ' end' -%}
                    {%- set picked = ga4_user_state_pick(pick.direction, when_picked, order) -%}
                    {%- do items.append('nullif(' ~ picked ~ ', ' ~ row_order_sql[row_order[loop.index0]] ~ ') as ' ~ column) -%}
                {%- endfor -%}
            {%- endif -%}
        {%- elif pick.source == from_source -%}
            {%- do items.append(ga4_user_state_pick(pick.direction, pick.expression, pick.order) ~ ' as ' ~ pick.column) -%}
            {%- for column in pick.order -%}
                {%- set when_picked = 'case when ' ~ pick.expression ~ ' is not null then ' ~ column ~ ' end' -%}
                {%- set picked = ga4_user_state_pick(pick.direction, when_picked, pick.order) -%}
                {%- do items.append('nullif(' ~ picked ~ ', ' ~ row_order_sql[row_order[loop.index0]] ~ ') as ' ~ kept_order[loop.index0]) -%}
            {%- endfor -%}
        {%- else -%}
            {%- do items.append('null as ' ~ pick.column) -%}
            {%- for column in kept_order -%}
                {%- do items.append('null as ' ~ column) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(items) }}
{%- endmacro %}

{#- How int_users_aggregated is written this run: {'mode': 'update' | 'rebuild', 'start',
    'end' (the days re-read from the sources, update only), 'settled_before' (the settled
    line: no later night reads the days before it again; ga4_user_state_fold_line), 'retained_as_of' (the date retention counts from, kept in the
    state), 'expired_months' (source name -> the months whose settled rows are read again)}.

    An update reads the stored state and the sources' rows from the start of the sessions'
    reach (the earliest session this run re-processed) to its end; the settled line is the
    nightly window minus the session span, and the months wholly before it fold into one row
    per pair and month (ga4_user_state_fold_line). The nightly window is
    the run date's, on a backfill too: a backfill reaching the run date leaves the state
    folded where the next nightly folds it, so that nightly has nothing to fold, not the
    weeks between the backfill's start and its own window (a boundary never later than the reach,
    whose days are read again as day rows).

    Retention never needs the whole history: the state keeps the date retention was last
    counted from, so the days that expired since are known per category (one a night), and
    only the settled rows of their months change: those months are read again from the days
    the sources keep (a source holding nothing older than the cutoff expires nothing). A run
    that skips destructive steps counts none: its sources still hold what expired.

    It rebuilds when an update could not equal a rebuild: no stored state, a full refresh,
    stored columns that differ (declared user properties changed, or a state from before
    monthly settled rows), a reach that starts before the stored settled day (a backfill or a
    long session older than it), retention never counted for the stored state, or an expired
    day at or after the settled line (a retention shorter than the session span). -#}
{% macro ga4_user_state_plan(sources, state_columns) -%}
    {%- set nightly = ga4_nightly_window() -%}
    {%- set span = modules.datetime.timedelta(days=ga4_session_span_days()) -%}
    {%- set settled_before = nightly.start - span -%}
    {#- retention is counted only on a run that deletes what expired (not when the run skips
        destructive steps: the sources still hold those rows, to be deleted by a later run);
        a unit test's state is never counted (it would only ask for the newest export day) -#}
    {%- set counted = model.resource_type != 'unit_test' and not var('ga4_skip_deletes', false) -%}
    {%- set as_of = ga4_retention_as_of() if counted else none -%}
    {%- set rebuild = {'mode': 'rebuild', 'settled_before': settled_before, 'retained_as_of': as_of, 'expired_months': {}} -%}
    {%- if var('ga4_render_incremental', false) -%}
        {#- the offline proof: the update form, as the run it renders would (a nightly, or a
            backfill's range) -#}
        {%- set window = ga4_window(incremental=true) -%}
        {%- set line = [settled_before, window.start - span] | min -%}
        {{ return({'mode': 'update', 'start': window.start, 'end': window.end, 'settled_before': line, 'stored_settled_before': ga4_user_state_fold_line(line) - modules.datetime.timedelta(days=1), 'retained_as_of': as_of, 'expired_months': {}, 'erase': true}) }}
    {%- endif -%}
    {%- set stored = truffle_updatable_relation(ga4_user_state_run_columns() + state_columns) -%}
    {%- if stored is none or not ga4_user_state_numbers_stored(stored) -%}
        {{ return(rebuild) }}
    {%- endif -%}
    {%- set reach = ga4_session_reach(ref('int_sessions_aggregated'), incremental=true) -%}
    {%- set lookup -%}
        {{ truffle_lookup_name('users state') }}
        select
            max(settled_before),
            max(retained_as_of),
            min(first_seen_date),
            min(first_converted_date),
            min(first_event_date)
        from {{ stored }}
    {%- endset -%}
    {%- set found = run_query(lookup).rows[0] -%}
    {%- if found[0] is none or found[0] > reach.start -%}
        {{ return(rebuild) }}
    {%- endif -%}
    {#- an update in place deletes an erased identity's rows only on a run with an identity
        erased since the state was written (the erased identities only grow); the whole-table
        write drops them on every run -#}
    {%- set erase = true -%}
    {%- if ga4_user_state_in_place() -%}
        {%- set erasures -%}
            {{ truffle_lookup_name('users state erasures') }}
            select
                (select max(erasures_counted) from {{ stored }}),
                (select count(*) from {{ ref('int_erased_identities') }})
        {%- endset -%}
        {%- set counted = run_query(erasures).rows[0] -%}
        {%- set erase = counted[0] is none or counted[1] > counted[0] -%}
    {%- endif -%}
    {%- set settled_before = [found[0], [settled_before, reach.start] | min] | max -%}
    {%- set retained_as_of = found[1] -%}
    {%- set expired_months = {} -%}
    {%- if as_of is not none and (retained_as_of is none or as_of > retained_as_of) -%}
        {%- set oldest = {'sessions': found[2], 'conversions': found[3], 'events': found[4]} -%}
        {%- for source in sources -%}
            {%- set months = [] -%}
            {%- for category in source.categories -%}
                {%- set cutoff = ga4_retention_cutoff_date(category, as_of) -%}
                {%- if oldest[source.name] is not none and oldest[source.name] < cutoff -%}
                    {%- if retained_as_of is none or cutoff > settled_before -%}
                        {{ return(rebuild) }}
                    {%- endif -%}
                    {#- the days expired since: from the last cutoff (or the oldest row) -#}
                    {%- set first = [ga4_retention_cutoff_date(category, retained_as_of), oldest[source.name]] | max -%}
                    {%- for offset in range((cutoff.year - first.year) * 12 + cutoff.month - first.month + 1) -%}
                        {%- set index = first.month - 1 + offset -%}
                        {%- set month = first.replace(year=first.year + index // 12, month=index % 12 + 1, day=1) -%}
                        {%- if month < cutoff and month not in months -%}
                            {%- do months.append(month) -%}
                        {%- endif -%}
                    {%- endfor -%}
                {%- endif -%}
            {%- endfor -%}
            {%- if months -%}
                {%- do expired_months.update({source.name: months | sort}) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set retained_as_of = as_of -%}
    {%- endif -%}
    {{ return({
        'mode': 'update',
        'start': reach.start,
        'end': reach.end,
        'settled_before': settled_before,
        'stored_settled_before': found[0],
        'retained_as_of': retained_as_of,
        'expired_months': expired_months,
        'erase': erase,
    }) }}
{%- endmacro %}

{#- SQL: every source's rows of the days `plan` reads, one row per pair and day, the days
    of the months before `plan.settled_before`'s in one row per pair and month: on a rebuild every day; on an
    update the days re-processed, and each month retention expired days of (its settled row,
    read again from the days kept before the settled line). -#}
{% macro ga4_user_state_source_days(sources, plan) -%}
    {%- set selects = [] -%}
    {%- for source in sources -%}
        {%- set column = source.date_column -%}
        {%- set ranges = [] -%}
        {%- if plan.mode == 'update' -%}
            {%- do ranges.append(column ~ ' >= ' ~ date_literal(plan.start) ~ ' and ' ~ column ~ ' <= ' ~ date_literal(plan.end)) -%}
            {%- for month in plan.expired_months.get(source.name, []) -%}
                {%- set before = [plan.settled_before, truffle_next_month_of(month)] | min -%}
                {%- do ranges.append(column ~ ' >= ' ~ date_literal(month) ~ ' and ' ~ column ~ ' < ' ~ date_literal(before)) -%}
            {%- endfor -%}
        {%- else -%}
            {%- do ranges.append(truffle_every_partition_filter(column) or 'true') -%}
        {%- endif -%}
        {%- set bucket_month = truffle_month_start(column) -%}
        {%- set bucket_date -%}
            case when {{ column }} >= {{ date_literal(ga4_user_state_fold_line(plan.settled_before)) }} then {{ column }} end
        {%- endset -%}
        {%- for days_read in ranges -%}
            {%- set select -%}
    select
        '{{ source.name }}' as source_name,
        property_id,
        user_pseudo_id,
        user_id,
        {{ bucket_month }} as bucket_month,
        {{ bucket_date }} as bucket_date,
        {{ ga4_user_state_figures(from_source=source.name) | join(',\n        ') }}
    from {{ source.relation }}
    where coalesce(user_id, user_pseudo_id) is not null and {{ days_read }}
    group by property_id, user_pseudo_id, user_id, {{ bucket_month }}, {{ bucket_date }}
            {%- endset -%}
            {%- do selects.append(select) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(selects | join('\n    union all\n')) }}
{%- endmacro %}

{#- The state's columns that keep a hash key as a number (truffle_hash_key_number): the
    order columns at the positions where the order breaks ties by a key. -#}
{% macro ga4_user_state_number_columns() -%}
    {%- set keys = [truffle_hash_key_number('session_key'), truffle_hash_key_number('event_key')] -%}
    {%- set columns = [] -%}
    {%- for group in ga4_user_state_row_orders() -%}
        {%- for entry in group.order -%}
            {%- if entry in keys -%}{%- do columns.append(group.columns[loop.index0]) -%}{%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for pick in ga4_user_state_picks() -%}
        {%- set kept = ga4_user_state_order_columns(pick) -%}
        {%- for entry in pick.order -%}
            {%- if entry in keys -%}{%- do columns.append(kept[loop.index0]) -%}{%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{#- Whether the stored state keeps its keys as numbers: a state stored before they were (the
    keys' text, same column names) is rebuilt, never combined with numbers (text would
    compare with text, and order the picks wrongly). -#}
{% macro ga4_user_state_numbers_stored(stored) -%}
    {%- set types = {} -%}
    {%- for column in adapter.get_columns_in_relation(stored) -%}
        {%- do types.update({column.name | lower: column}) -%}
    {%- endfor -%}
    {%- for name in ga4_user_state_number_columns() -%}
        {%- if name not in types or not types[name].is_integer() -%}
            {{ return(false) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(true) }}
{%- endmacro %}

{#- The columns a pick keeps its order in: `<pick>__order_<n>`. -#}
{% macro ga4_user_state_order_columns(pick) -%}
    {%- set columns = [] -%}
    {%- for column in pick.order -%}
        {%- do columns.append(pick.column ~ '__order_' ~ loop.index) -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{#- The state's grain: a source's device / login pair (within its property), month and day
    (null: settled). -#}
{% macro ga4_user_state_grain() -%}
    {{ return(['source_name', 'property_id', 'user_pseudo_id', 'user_id', 'bucket_month', 'bucket_date']) }}
{%- endmacro %}

{#- The first day kept as a day row: the first of the settled line's month. The days of the
    months wholly before the settled line are folded into one row per pair and month; the
    settled days of the line's own month stay day rows (never read again: they lie before
    the line) until the line leaves that month, and the month folds on that night, once. A
    line folding day by day would combine each night's crossing day with its month's settled
    row, reading the month's settled rows every night. -#}
{% macro ga4_user_state_fold_line(settled_before) -%}
    {{ return(settled_before.replace(day=1)) }}
{%- endmacro %}

{#- The state's columns after its key, settled_before and retained_as_of, in order. -#}
{% macro ga4_user_state_columns() -%}
    {%- set columns = ga4_user_state_grain() -%}
    {%- for measure in ga4_user_state_measures() -%}
        {%- do columns.append(measure.column) -%}
    {%- endfor -%}
    {%- for group in ga4_user_state_row_orders() -%}
        {%- do columns.extend(group.columns | reject('in', group.measures) | list) -%}
    {%- endfor -%}
    {%- for pick in ga4_user_state_picks() -%}
        {%- do columns.append(pick.column) -%}
        {%- do columns.extend(ga4_user_state_order_columns(pick)) -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{#- The state's columns before its grain: its key, and the run that wrote the row: its
    settled line, retention day, count of erased identities (the state's own are the
    greatest) and start (run_started_at). -#}
{% macro ga4_user_state_run_columns() -%}
    {{ return(['user_state_key', 'settled_before', 'retained_as_of', 'erasures_counted', 'written_at']) }}
{%- endmacro %}

{#- How the state is written. DuckDB updates it in place (strategy `truffle_state`: a delete
    of the rows a run replaces, ga4_user_state_replaced, and an insert of its new rows), so
    a nightly reads the rows it folds and the days it read again, not every row kept;
    BigQuery still writes the table whole each run (read whole: the users' tables are listed
    as such in the nightly audit): a `table`, or, while row access policies are declared,
    the whole table replaced by one MERGE that keeps them (ga4_table_materialization). -#}
{% macro ga4_user_state_in_place() -%}
    {{ return(adapter.dispatch('ga4_user_state_in_place', 'random_truffle')()) }}
{%- endmacro %}

{% macro default__ga4_user_state_in_place() -%}
    {{ return(false) }}
{%- endmacro %}

{% macro duckdb__ga4_user_state_in_place() -%}
    {{ return(true) }}
{%- endmacro %}

{% macro bigquery__ga4_user_state_in_place() -%}
    {{ return(false) }}
{%- endmacro %}

{% macro ga4_user_state_materialization() -%}
    {{ return('incremental' if ga4_user_state_in_place() else ga4_table_materialization()) }}
{%- endmacro %}

{#- The incremental strategy of the state: `truffle_state` in place, else dbt's merge (which
    meta.replaced_whole turns into one MERGE replacing every row). -#}
{% macro ga4_user_state_strategy() -%}
    {{ return('truffle_state' if ga4_user_state_in_place() else 'merge') }}
{%- endmacro %}

{#- The stored rows an update in place replaces (rows written before `written_at`, this
    run's start: its new rows are inserted first), one predicate per delete, each on the columns whose min / max let DuckDB
    skip the rest of the table (the settled rows lie first, by month, then the day rows by
    day, then what later runs appended): the days it read again; the days now older than the
    settled line, and the settled rows of their pairs' months (folded again, among the new
    rows); the months retention expired days of; an erased identity's rows when one was erased
    since the state was written. -#}
{% macro ga4_user_state_replaced(plan, written_at) -%}
    {%- set predicates = [
        'bucket_date >= ' ~ date_literal(plan.start) ~ ' and bucket_date <= ' ~ date_literal(plan.end),
    ] -%}
    {%- set fold_line = ga4_user_state_fold_line(plan.settled_before) -%}
    {%- if fold_line > ga4_user_state_fold_line(plan.stored_settled_before) -%}
        {%- do predicates.append('bucket_date < ' ~ date_literal(fold_line)) -%}
        {%- set predicate -%}
            bucket_date is null
            and bucket_month >= {{ date_literal(ga4_user_state_fold_line(plan.stored_settled_before)) }}
            and bucket_month < {{ date_literal(fold_line) }}
            and user_state_key in (
                select user_state_key from {{ this }}
                where written_at = {{ written_at }} and bucket_date is null
            )
        {%- endset -%}
        {%- do predicates.append(predicate) -%}
    {%- endif -%}
    {%- do predicates.extend(ga4_user_state_expired_rows(plan)) -%}
    {%- if plan.erase -%}
        {%- do predicates.append('not (' ~ ga4_not_erased(ref('int_erased_identities')) ~ ')') -%}
    {%- endif -%}
    {%- set stored = [] -%}
    {%- for predicate in predicates -%}
        {%- do stored.append('(' ~ predicate ~ ')\n    and written_at < ' ~ written_at) -%}
    {%- endfor -%}
    {{ return(stored) }}
{%- endmacro %}

{#- The run's start, as the SQL literal the state's rows keep (written_at). -#}
{% macro ga4_user_state_written_at() -%}
    {{ return("cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') ~ "' as timestamp)") }}
{%- endmacro %}

{#- The marker line that carries an update in place's deletes from the model's compiled SQL
    to the strategy (computed once, with the plan's lookups, when the model compiles). -#}
{% macro ga4_user_state_deletes_marker() -%}
    {{ return('-- truffle_state deletes: ') }}
{%- endmacro %}

{#- The strategy `truffle_state` (DuckDB, int_users_aggregated). An update: the new rows
    (folded months, the days read again) inserted from a temporary view of the model's select
    (read once: no temporary table written and read back), then one delete per kind of
    replaced row, of the rows written before this run, each its own statement; the deletes
    were computed when the model compiled (a marker line of its SQL,
    ga4_user_state_deletes_marker), so the plan's lookups run once. All in the
    materialization's one transaction. A rebuild replaces the table: its columns may have
    changed (declared user properties, a state from an earlier version). -#}
{% macro get_incremental_truffle_state_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set rows = arg_dict['temp_relation'].include(database=false, schema=false) -%}
    {%- set marker = ga4_user_state_deletes_marker() -%}
    {%- set found = [] -%}
    {%- for line in compiled_code.split('\n') if line.startswith(marker) -%}
        {%- do found.append(fromjson(line[marker | length:])) -%}
    {%- endfor -%}
    {%- set deletes = found[0] if found else none -%}
    {%- if deletes is none -%}
    create or replace table {{ target }} as
    select * from {{ rows }}
    {%- else -%}
        {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
        {%- set statements = ['insert into ' ~ target ~ ' (' ~ columns ~ ')\nselect ' ~ columns ~ '\nfrom ' ~ rows] -%}
        {%- for predicate in deletes -%}
            {%- do statements.append('delete from ' ~ target ~ '\nwhere ' ~ predicate) -%}
        {%- endfor -%}
        {%- for statement in statements[:-1] -%}
            {%- do run_query(statement) -%}
        {%- endfor -%}
    {{ statements[-1] }}
    {%- endif %}
{%- endmacro %}

{#- SQL, one predicate per source: the stored rows of the months retention expired days of
    (their settled row and days before the settled line), read again from the sources. -#}
{% macro ga4_user_state_expired_rows(plan) -%}
    {%- set predicates = [] -%}
    {%- for source_name, months in plan.expired_months.items() -%}
        {%- set predicate -%}
            source_name = '{{ source_name }}'
            and bucket_month in ({% for month in months %}{{ date_literal(month) }}{{ ', ' if not loop.last }}{% endfor %})
            and (bucket_date is null or bucket_date < {{ date_literal(plan.settled_before) }})
        {%- endset -%}
        {%- do predicates.append(predicate) -%}
    {%- endfor -%}
    {{ return(predicates) }}
{%- endmacro %}

{#- SQL: the rows of `relation` (where `where`) folded into one settled row per pair and month
    (`combined`: ga4_user_state_figures()). -#}
{% macro ga4_user_state_folded(relation, combined, where=none) -%}
    select
        source_name,
        property_id,
        user_pseudo_id,
        user_id,
        bucket_month,
        cast(null as date) as bucket_date,
        {{ combined | join(',\n        ') }}
    from {{ relation }}
    {%- if where %}
    where {{ where }}
    {%- endif %}
    group by source_name, property_id, user_pseudo_id, user_id, bucket_month
{%- endmacro %}

{#- SQL join condition: `left`'s row is of the same pair and month as `right`'s (the ids may
    be null: compared null-safe). -#}
{% macro ga4_user_state_same_pair_month(left, right) -%}
    {{ left }}.source_name = {{ right }}.source_name
            and {{ left }}.property_id = {{ right }}.property_id
            and {{ left }}.user_pseudo_id is not distinct from {{ right }}.user_pseudo_id
            and {{ left }}.user_id is not distinct from {{ right }}.user_id
            and {{ left }}.bucket_month = {{ right }}.bucket_month
{%- endmacro %}
