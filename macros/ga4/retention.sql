{#- Retention: how many years each event category is kept (variables, defaults 7 / 1 / 2 / 7
    years) and the cutoff date before which a category's rows are dropped.

    Retention counts back from the data's time, not the wall clock: the newest export day (no
    later than the run date), so a warehouse built on an export years old keeps what its
    policy keeps. `ga4_retention_as_of` says otherwise: a date, or `run_date` for the run date
    (truffle resolves the newest export day once and passes it here as a literal). -#}
{% macro ga4_retention_years() -%}
    {{ return({
        'transaction': var('retention_years_transaction', 7) | int,
        'interaction': var('retention_years_interaction', 1) | int,
        'user_activity': var('retention_years_user_activity', 2) | int,
        'content': var('retention_years_content', 7) | int,
    }) }}
{%- endmacro %}

{#- The date retention counts back from (a Python date), or none when there is no export day
    to count from (then nothing expires). -#}
{% macro ga4_retention_as_of() -%}
    {%- set configured = var('ga4_retention_as_of', none) -%}
    {%- set run_date = ga4_run_date() -%}
    {%- if configured == 'run_date' -%}
        {{ return(run_date) }}
    {%- elif configured -%}
        {{ return(truffle_parse_date(configured)) }}
    {%- endif -%}
    {%- if not execute or var('ga4_render_offline', false) -%}
        {{ return(run_date) }}
    {%- endif -%}
    {%- set newest = ga4_newest_export_day() -%}
    {{ return([newest, run_date] | min if newest else none) }}
{%- endmacro %}

{#- The newest daily or intraday export day (a Python date), or none. Several properties: the
    least of their newest days (a property whose export lags counts retention from its own
    newest day, and no property's rows expire earlier than its own export says). -#}
{% macro ga4_newest_export_day() -%}
    {%- set days = [] -%}
    {%- for property in ga4_properties() -%}
        {%- set newest = adapter.dispatch('ga4_newest_export_day', 'random_truffle')(property) -%}
        {%- if newest -%}{%- do days.append(newest) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(days | min if days else none) }}
{%- endmacro %}

{% macro default__ga4_newest_export_day(property) -%}
    {{ exceptions.raise_compiler_error("ga4_newest_export_day: no implementation for the " ~ target.type ~ " engine (duckdb and bigquery are supported); set ga4_retention_as_of instead.") }}
{%- endmacro %}

{% macro duckdb__ga4_newest_export_day(property) -%}
    {%- set days = [] -%}
    {%- for file in ga4_duckdb_export_listing(property, required=false) -%}
        {%- do days.append(file.suffix) -%}
    {%- endfor -%}
    {{ return(modules.datetime.datetime.strptime(days | max, '%Y%m%d').date() if days else none) }}
{%- endmacro %}

{% macro bigquery__ga4_newest_export_day(property) -%}
    {%- set result = run_query(
        "select max(regexp_extract(table_name, r'([0-9]{8})$')) from "
        ~ ga4_bigquery_export_dataset(property) ~ ".INFORMATION_SCHEMA.TABLES"
        ~ " where regexp_contains(table_name, r'^events_(intraday_)?[0-9]{8}$')") -%}
    {%- set newest = result.rows[0][0] if result.rows else none -%}
    {{ return(modules.datetime.datetime.strptime(newest, '%Y%m%d').date() if newest else none) }}
{%- endmacro %}

{#- SQL: the first day a category keeps (the oldest date when nothing expires). -#}
{% macro ga4_retention_cutoff(category) -%}
    {%- set as_of = ga4_retention_as_of() -%}
    {{ return(date_literal(ga4_retention_cutoff_date(category, as_of) if as_of else '1900-01-01')) }}
{%- endmacro %}

{#- The first day a category keeps (a Python date), `years` before `as_of`. -#}
{% macro ga4_retention_cutoff_date(category, as_of) -%}
    {%- set years = ga4_retention_years()[category] -%}
    {%- set day = 28 if (as_of.month == 2 and as_of.day == 29) else as_of.day -%}
    {{ return(as_of.replace(year=as_of.year - years, day=day)) }}
{%- endmacro %}

{#- SQL: the row (with `category_column` and `date_column`) is still within its retention. -#}
{% macro ga4_within_retention(category_column, date_column, as_of=none) -%}
    {%- set as_of = as_of or ga4_retention_as_of() -%}
    {%- if as_of is none -%}
    true
    {%- else -%}
    case {{ category_column }}
        {%- for category in ga4_retention_years() %}
        when '{{ category }}' then {{ date_column }} >= {{ date_literal(ga4_retention_cutoff_date(category, as_of)) }}
        {%- endfor %}
        else true
    end
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: delete a model's rows past their retention, checked by the delete guard (it
    may refuse), reported, and skipped when the run says so (a failed freshness check).

    Bounded by literal dates. The retention ledger (int_retentions_applied) says as of which
    date the table's retention was last applied, so a nightly reads only the days that
    crossed a category's cutoff since then (one day per category on an ordinary night, the
    missed days after a gap) as a literal list. Every partition before the latest cutoff is
    read only when the ledger has no row for the table (a full build, a first run) or when
    the run wrote days near a cutoff (a backfill of year-old days).

    `relation`: another model's table (default: this model's). `read_by`: a model that reads
    this table's expiring rows later in the run (the conversions' attribution reads the
    sessions they happened in, kept as long as conversions are); when it is selected, its
    own hooks apply this table's retention after it (`relation`), and this hook does
    nothing. -#}
{% macro ga4_apply_retention(category_column, date_column, relation=none, read_by=none) -%}
    {%- set relation = relation or this -%}
    {%- set as_of = ga4_retention_as_of() if execute and not var('ga4_render_incremental', false) else none -%}
    {%- set as_of = none if ga4_retention_read_later(read_by) else as_of -%}
    {%- set predicate = ga4_retention_predicate(category_column, date_column, as_of, relation) if as_of is not none else none -%}
    {%- if predicate and truffle_guard_delete(relation, 'retention', date_column, predicate, check_recent=true,
                                               detail='older than its retention as of ' ~ as_of) %}
    delete from {{ relation }}
    where
        {{ predicate }}
    {%- else -%}
    select 1 as nothing_expired
    {%- endif -%}
{%- endmacro %}

{#- Whether the model `read_by` (a name, or none) is selected in this run: it reads the
    current model's expiring rows after it, and applies their retention itself. -#}
{% macro ga4_retention_read_later(read_by) -%}
    {#- this project's package name, also where it is installed as a package of another -#}
    {{ return(read_by is not none and ('model.' ~ model.package_name ~ '.' ~ read_by) in selected_resources) }}
{%- endmacro %}

{#- SQL: the rows of a table (`relation`, default `this`) retention removes as of `as_of`, bounded as
    ga4_apply_retention says; none when no day can have crossed a cutoff since the last run,
    or when the days that did hold no rows (BigQuery's partition metadata says so without
    reading them: a warehouse younger than its retention reads no table data for it). -#}
{% macro ga4_retention_predicate(category_column, date_column, as_of, relation=none) -%}
    {%- set relation = relation or this -%}
    {#- a constant category (sessions, conversions) expires on its own cutoff only -#}
    {%- set constant = category_column.strip("'") if category_column.startswith("'") else none -%}
    {%- set categories = [constant] if constant else ga4_retention_years() | list -%}
    {%- set cutoffs = [] -%}
    {%- for category in categories -%}
        {%- do cutoffs.append(ga4_retention_cutoff_date(category, as_of)) -%}
    {%- endfor -%}
    {%- set expired = 'not (' ~ ga4_within_retention(category_column, date_column, as_of) ~ ')' -%}
    {%- set unbounded = date_column ~ ' < ' ~ date_literal(cutoffs | max) ~ ' and ' ~ expired -%}
    {%- set pending = ga4_retention_pending_days(relation, as_of) -%}
    {%- if pending is none -%}
        {{ return(unbounded) }}
    {%- endif -%}
    {%- set days = ga4_retention_expiring_days(as_of, pending, categories) -%}
    {#- rows written tonight lie in the window, or (a session, its conversions) up to the
        session span before it: near a cutoff (a backfill of year-old days) a literal range
        from there; after a gap of a year, a literal range from the first expiring day -#}
    {%- set window = ga4_window() -%}
    {%- set span = modules.datetime.timedelta(days=ga4_session_span_days() + 1) -%}
    {%- set written_from = window.start - span if window.start else none -%}
    {%- set near = written_from is not none and written_from < cutoffs | max -%}
    {%- if near or days | length > 400 -%}
        {{ return(date_column ~ ' >= ' ~ date_literal((([written_from] if near else []) + days[:1]) | min) ~ ' and ' ~ unbounded) }}
    {%- endif -%}
    {%- if not days or not truffle_days_hold_rows(relation, days) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set listed = [] -%}
    {%- for day in days -%}
        {%- do listed.append(date_literal(day)) -%}
    {%- endfor -%}
    {{ return(date_column ~ ' in (' ~ (listed | join(', ')) ~ ') and ' ~ expired) }}
{%- endmacro %}

{#- The days (sorted Python dates) on which rows of one of `categories` crossed its cutoff
    between `pending` days before `as_of` and `as_of`. -#}
{% macro ga4_retention_expiring_days(as_of, pending, categories) -%}
    {%- set days = [] -%}
    {%- set previous = as_of - modules.datetime.timedelta(days=[pending, 0] | max) -%}
    {%- for category in categories -%}
        {%- set first = ga4_retention_cutoff_date(category, previous) -%}
        {%- set cutoff = ga4_retention_cutoff_date(category, as_of) -%}
        {%- for offset in range((cutoff - first).days) -%}
            {%- set day = first + modules.datetime.timedelta(days=offset) -%}
            {%- if day not in days -%}
                {%- do days.append(day) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(days | sort) }}
{%- endmacro %}

{#- How many days `as_of` is after the date `relation`'s retention was last applied as of
    (the ledger's newest row for it), or none: read every partition before the cutoffs (a
    full build of the table, or no row yet). -#}
{% macro ga4_retention_pending_days(relation, as_of) -%}
    {%- if not ga4_is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select {{ dbt.datediff('retained_as_of', date_literal(as_of), 'day') }}
        from {{ ref('int_retentions_applied') }}
        where table_name = {{ truffle_string_literal(relation.identifier) }}
        order by applied_at desc, retained_as_of
        limit 1
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {{ return(rows[0][0] | int if rows and rows[0][0] is not none else none) }}
{%- endmacro %}

{#- Post-hook after ga4_apply_retention: record in the ledger the date retention was applied
    as of (not when the run skips destructive steps; a refused retention fails the model
    before this runs). Sends nothing when the ledger already says so, or when `read_by`
    applies the retention later in the run (ga4_apply_retention). -#}
{% macro ga4_record_retention(relation, read_by=none) -%}
    {%- set ledger = ref('int_retentions_applied') -%}
    {%- set as_of = ga4_retention_as_of() if execute and not var('ga4_render_incremental', false) else none -%}
    {%- set as_of = none if ga4_retention_read_later(read_by) else as_of -%}
    {%- set record = as_of is not none and not var('ga4_skip_deletes', false)
        and ga4_retention_pending_days(relation, as_of) != 0 -%}
    {%- if record -%}
    {%- set table_name = truffle_string_literal(relation.identifier) -%}
    {%- set applied_at = truffle_string_literal(modules.datetime.datetime.utcnow().isoformat()) -%}
    insert into {{ ledger }} (retention_key, table_name, retained_as_of, applied_at)
    select
        {{ truffle_hash_key([table_name, truffle_string_literal(as_of | string), applied_at]) }},
        {{ table_name }},
        {{ date_literal(as_of) }},
        current_timestamp
    {%- else -%}
    select 1 as nothing_to_record
    {%- endif -%}
{%- endmacro %}
