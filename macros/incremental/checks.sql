{#- Data tests follow the window. On an incremental run (no --full-refresh, no
    `ga4_full_checks`), a data test of an incremental model reads only the rows of the
    re-processed window, one day either side (the model's `meta.window_column`; a view whose
    window column is a renamed column of the tables under it says which in
    `meta.window_source_column`, for the nightly audit), so a nightly's
    tests cost what its window costs, not what the history costs. A full refresh, or
    `ga4_full_checks: true` (`truffle build --full-checks`), checks the whole history. The
    offline BigQuery proof renders the incremental form's tests with the window, as a nightly
    sends them. -#}

{#- The window the checks of this run cover (ga4_window's dict), or none for whole history. -#}
{% macro truffle_checks_window() -%}
    {%- if var('ga4_full_checks', false) -%}
        {{ return(none) }}
    {%- elif var('ga4_render_offline', false) -%}
        {{ return(ga4_window(incremental=true) if var('ga4_render_incremental', false) else none) }}
    {%- elif flags.FULL_REFRESH -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(ga4_window(incremental=true)) }}
{%- endmacro %}

{#- SQL predicate: `column` (a date) lies in the checked window, one day either side (and
    `days_before` / `days_after` more); none when the checks cover the whole history. -#}
{% macro truffle_check_window_predicate(column, days_before=0, days_after=0) -%}
    {%- set window = truffle_checks_window() -%}
    {%- if window is none or window.start is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set last = window.end + modules.datetime.timedelta(days=1 + days_after) -%}
    {{ return(column ~ ' >= ' ~ date_literal(truffle_check_window_first_day(days_before)) ~ ' and ' ~ column ~ ' <= ' ~ date_literal(last)) }}
{%- endmacro %}

{#- The first day the checks of this run read (the window's, one day before it and
    `days_before` more); none when the checks cover the whole history. -#}
{% macro truffle_check_window_first_day(days_before=0) -%}
    {%- set window = truffle_checks_window() -%}
    {%- if window is none or window.start is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(window.start - modules.datetime.timedelta(days=1 + days_before)) }}
{%- endmacro %}

{#- Days before the checked window a session holding one of the run window's events can
    have begun (ga4_session_lag_days over those events); 0 on whole-history checks. -#}
{% macro truffle_check_session_lag() -%}
    {%- set events = ref('events') -%}
    {%- set scope = truffle_check_window_predicate('event_date', -1, -1) -%}
    {%- if scope is none -%}
        {{ return(0) }}
    {%- endif -%}
    {{ return(ga4_session_lag_days(incremental=true, events=events, scope=scope)) }}
{%- endmacro %}

{#- Days after the checked window a conversion of one of its sessions can lie: a
    conversion lies within its session's days, so up to the last end day of the sessions
    that began in the window (looked up, window-bounded), never more than the session span;
    0 on whole-history checks and offline. -#}
{% macro truffle_check_conversion_days_after() -%}
    {%- set sessions = ref('sessions') -%}
    {%- set window = truffle_checks_window() -%}
    {%- if window is none or window.end is none or not execute or var('ga4_render_offline', false) -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set lookup -%}
        select max(session_end_date) from {{ sessions }}
        where {{ truffle_check_window_predicate('session_start_date') }}
    {%- endset -%}
    {%- set last = run_query(lookup).rows[0][0] -%}
    {%- set last = truffle_parse_date(last | string) if last else window.end -%}
    {{ return([[(last - window.end).days, 0] | max, ga4_session_span_days()] | min) }}
{%- endmacro %}

{#- SQL for singular tests: the window predicate on `column`, or `otherwise` (whole history). -#}
{% macro truffle_check_scope(column, otherwise='true', days_before=0, days_after=0) -%}
    {{ truffle_check_window_predicate(column, days_before, days_after) or otherwise }}
{%- endmacro %}

{#- The manifest node of the model built at a relation (none for anything else). -#}
{% macro truffle_model_node(relation) -%}
    {%- if execute and relation is not string and relation.identifier -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model'
                and (node.database or '') | lower == (relation.database or '') | lower
                and (node.schema or '') | lower == (relation.schema or '') | lower
                and (node.alias or node.name) | lower == relation.identifier | lower -%}
                {{ return(node) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- The predicates a generic data test adds when it reads `relation`: its own `where` config,
    then the window of an incremental model or of `meta.check_window_column` (a table rebuilt
    whole and not partitioned whose rows carry the last day they were active: the people, whom
    a window check reads where last seen in the window; stored in that column's order so it
    reads only that part) (on window checks; a test's `meta.window_days_before_var` names the variable holding how many days before the window
    it reads too, for a test comparing a day with the days before it). -#}
{% macro truffle_test_predicates(relation) -%}
    {%- set predicates = [] -%}
    {%- if config.get('where') -%}
        {%- do predicates.append('(' ~ config.get('where') ~ ')') -%}
    {%- endif -%}
    {%- set node = truffle_model_node(relation) -%}
    {%- set meta = (node.config.get('meta') or {}) if node else {} -%}
    {%- set column = meta.get('window_column') if node and node.config.get('materialized') in ('incremental', 'view') else none -%}
    {%- set column = column or meta.get('check_window_column') -%}
    {%- set days_var = (config.get('meta') or {}).get('window_days_before_var') -%}
    {%- set days_before = (var(days_var, 0) if days_var else 0) | int -%}
    {%- set window = truffle_check_window_predicate(column, days_before) if column else none -%}
    {%- if window -%}
        {%- do predicates.append(window) -%}
    {%- endif -%}
    {{ return(predicates) }}
{%- endmacro %}

{% macro truffle_filtered_relation(relation, predicates) -%}
    {%- if predicates -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ predicates | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}

{#- dbt's data tests read the tested model through get_where_subquery. -#}
{% macro duckdb__get_where_subquery(relation) -%}
    {{ return(truffle_filtered_relation(relation, truffle_test_predicates(relation))) }}
{%- endmacro %}
