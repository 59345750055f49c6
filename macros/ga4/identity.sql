{#- Identity resolved where the facts are read (pitfall 13): the stored fact tables keep each
    row's own user_pseudo_id and user_id, and the mart views (events, sessions, conversions,
    items) join the device map (int_devices_stitched, small: one row per logged-in device) to
    give unified_user_id: the row's own login, else the user its device first logged in as
    (also for rows before that login), else the device. A login seen tonight, or one a
    rewritten export day removed, changes the map only: no old partition is rewritten, and
    every view reads as a full build of the current export would store it.

    The view's columns, in the order of its contract (declared once, in the YAML), each read
    from `facts` except the resolved ones. -#}
{% macro ga4_identified_columns(facts, devices) -%}
    {%- set resolved = {
        'unified_user_id': 'coalesce(' ~ facts ~ '.user_id, ' ~ devices ~ '.user_id, ' ~ facts ~ '.user_pseudo_id)',
        'is_stitched_identity': '(' ~ facts ~ '.user_id is null and ' ~ devices ~ '.user_id is not null)',
    } -%}
    {%- if not execute -%}
        {{ return(facts ~ '.*') }}
    {%- endif -%}
    {#- a unit test compares the columns it names: every stored one, then the resolved ones -#}
    {%- if model.resource_type == 'unit_test' -%}
        {{ return(facts ~ '.*, ' ~ resolved.items() | map('reverse') | map('join', ' as ') | join(', ')) }}
    {%- endif -%}
    {%- set columns = model.columns.keys() | list -%}
    {%- if 'unified_user_id' not in columns -%}
        {{ exceptions.raise_compiler_error(model.name ~ ': a view that resolves identity must declare unified_user_id in its contract.') }}
    {%- endif -%}
    {%- set selected = [] -%}
    {%- for column in columns -%}
        {%- do selected.append(resolved[column] ~ ' as ' ~ column if column in resolved else facts ~ '.' ~ column) -%}
    {%- endfor -%}
    {{ selected | join(',\n        ') }}
{%- endmacro %}


{#- How int_device_users_paired is written this run: `update` (the stored pairs first seen
    before the window, plus every login from the window's first day on, up to `through`: the
    window's last day, or the newest day a stored pair was seen logged in when a backfill
    re-processes older days) or `rebuild` (from every stored login: a full build, a first
    run, a changed table). -#}
{% macro ga4_device_pairs_plan(columns) -%}
    {%- set update = truffle_table_update_plan(columns) -%}
    {%- if update.mode != 'update' -%}
        {{ return(update) }}
    {%- endif -%}
    {%- do update.update({'through': update.end}) -%}
    {%- if var('ga4_render_incremental', false) -%}
        {#- the offline proof: no warehouse to ask -#}
        {{ return(update) }}
    {%- endif -%}
    {%- set newest = run_query('select max(last_login_date) from ' ~ this).rows[0][0] -%}
    {%- set newest = truffle_parse_date((newest | string)[:10]) if newest else none -%}
    {%- if newest and newest > update.end -%}
        {%- do update.update({'through': newest}) -%}
    {%- endif -%}
    {{ return(update) }}
{%- endmacro %}


{#- SQL: the device map (`devices`, one row per device already) keyed by device, as the
    mart views join it. Grouped by its key, the join is provably one row per fact, so an
    engine that drops an unused left join to a unique side drops it from a query that reads
    no resolved column: DuckDB (2.0) then leaves the map unread in the data tests of the
    views' other columns, which read it whole otherwise (it grows with the logged-in devices
    of the history). `max` of the one user_id is that user_id. -#}
{% macro ga4_device_lookup(devices) -%}
    select
        property_id,
        user_pseudo_id,
        max(user_id) as user_id
    from {{ devices }}
    group by property_id, user_pseudo_id
{%- endmacro %}
