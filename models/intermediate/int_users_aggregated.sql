-- depends_on: {{ ref('events') }}
-- depends_on: {{ ref('int_events_recorded') }}
-- depends_on: {{ ref('stg_ga4__events') }}
-- depends_on: {{ ref('int_sessions_aggregated') }}
-- depends_on: {{ ref('int_erased_identities') }}
{%- set sources = ga4_user_state_sources() %}
{%- set combined = ga4_user_state_figures() %}
{%- set state_columns = ga4_user_state_columns() %}

{#- How this run writes the state: `update` (the stored state plus the days this run
    re-processed) or `rebuild` (from every row of the sources), and the boundaries. -#}
{%- set plan = ga4_user_state_plan(sources, state_columns) %}
{%- set retained_as_of = date_literal(plan.retained_as_of) if plan.retained_as_of else 'cast(null as date)' %}

{{
    config(
        materialized=ga4_user_state_materialization(),
        incremental_strategy=ga4_user_state_strategy(),
        cluster_by=ga4_cluster_by(['user_pseudo_id', 'user_id']),
        meta={'check_window_column': 'bucket_date', 'replaced_whole': not ga4_user_state_in_place()},
    )
}}
{#- DuckDB updates the stored state in place (the new rows only, below; the rows they replace
    deleted by the strategy, ga4_user_state_replaced); BigQuery writes it whole. Each row
    keeps the settled line, retention day and erasure count of the run that wrote it. -#}
{%- set in_place = plan.mode == 'update' and is_incremental() and ga4_user_state_in_place() %}
{#- the first day kept as a day row (the settled line's month), and whether the days of a
    month fold this run (the line entered a later month) -#}
{%- set fold_line = ga4_user_state_fold_line(plan.settled_before) %}
{%- set folds = in_place and fold_line > ga4_user_state_fold_line(plan.stored_settled_before) %}
{%- set written_at = ga4_user_state_written_at() %}
{%- if in_place %}
{{ ga4_user_state_deletes_marker() }}{{ tojson(ga4_user_state_replaced(plan, written_at)) }}
{% endif %}

{#- The state behind user_attributes: per source (sessions, conversions, the events mart when
    user properties are declared), per device / login pair (user_pseudo_id, user_id), the
    figures of the days of the months wholly before `settled_before` folded into one row per
    month (bucket_date null) and one row per later day (ga4_user_state_fold_line: the line's
    own month stays in day rows). A nightly reads the days it re-processed of its sources,
    never their history; on the night the line enters a new month it also combines the
    month it left, each pair's days into one row (the other rows pass through; on DuckDB
    they stay where they are: the update is in place, the new rows only, and it reads the
    stored rows it folds, not every row kept), and on the other nights it folds nothing;
    the person a row belongs to is resolved where it is read
    (int_users_combined, through the device map). Rebuilt from every row of the sources on a full
    build, and whenever an update could not equal a rebuild: a backfill or rewrite older than
    `settled_before`, a change of the declared user properties (ga4_user_state_plan).
    Retention never rebuilds it: the state keeps the date retention was last counted from
    (retained_as_of), and the months holding days that expired since are read again from
    the days the sources keep (their settled rows; a month of partitions per category and
    night). The days read come last (source_days), so a nightly's data tests, which check the
    window's day rows (meta.check_window_column), read the table's tail. -#}

with
{%- if folds or (plan.mode == 'update' and not in_place) %}

prior as (
    select * from {{ this }}
),

erased_identities as (
    select * from {{ ref('int_erased_identities') }}
),

-- the stored days of the months now wholly before the settled line (day rows come last in
-- the table); an erased identity's rows and the months retention expired days of are left out
folding_days as (
    select * from prior
    where
        bucket_date < {{ date_literal(fold_line) }}
        and {{ ga4_not_erased() }}
        {%- for expired in ga4_user_state_expired_rows(plan) %}
        and not ({{ expired }})
        {%- endfor %}
),

-- their pairs' months: only their settled row changes
folding_months as (
    select distinct
        source_name,
        property_id,
        user_pseudo_id,
        user_id,
        bucket_month
    from folding_days
),
{%- endif %}
{%- if folds %}

-- those months' settled rows (ids may be null: compared null-safe): none when the state
-- was written by this version (a month is folded whole, once); a state from before kept
-- its line's month partly folded, and that row combines with the month's days
folding_settled as (
    select prior.*
    from prior
    inner join folding_months
        on {{ ga4_user_state_same_pair_month('prior', 'folding_months') }}
    where
        prior.bucket_date is null
        and prior.bucket_month >= {{ date_literal(ga4_user_state_fold_line(plan.stored_settled_before)) }}
        and prior.bucket_month < {{ date_literal(fold_line) }}
),

-- each such month's days and settled row fold into its new settled row
folded as (
    {{ ga4_user_state_folded('(select * from folding_days union all select * from folding_settled) as folding', combined) }}
),
{%- elif plan.mode == 'update' and not in_place %}

-- an erased identity's rows go (its sessions and conversions were deleted from the marts);
-- so do the days this run reads again, and the settled rows (and days before the settled
-- line) of the months retention expired days of: read again from the days the sources keep
kept_prior as (
    select * from prior
    where
        {{ ga4_not_erased() }}
        and (
            bucket_date is null
            or bucket_date < {{ date_literal(plan.start) }}
            or bucket_date > {{ date_literal(plan.end) }}
        )
        {%- for expired in ga4_user_state_expired_rows(plan) %}
        and not ({{ expired }})
        {%- endfor %}
),

-- each stored row, marked when its pair's month folds (ids may be null: compared null-safe)
marked_prior as (
    select
        kept_prior.*,
        folding_months.source_name is not null as is_folding
    from kept_prior
    left join folding_months
        on {{ ga4_user_state_same_pair_month('kept_prior', 'folding_months') }}
),

-- those months' days older than the kept days fold into the month's settled row
folded as (
    {{ ga4_user_state_folded('marked_prior', combined, 'is_folding and (bucket_date is null or bucket_date < ' ~ date_literal(fold_line) ~ ')') }}
),

-- every other settled row, as it was
settled as (
    select
        {{ state_columns | join(',\n        ') }}
    from marked_prior
    where not is_folding and bucket_date is null
),

-- kept days this run did not read again, as they were
kept_days as (
    select
        {{ state_columns | join(',\n        ') }}
    from kept_prior
    where bucket_date >= {{ date_literal(fold_line) }}
),
{%- endif %}

-- each source's rows of the days read (all on a rebuild), per pair and day
source_days as (
    {{ ga4_user_state_source_days(sources, plan) }}
),

state_rows as (
    {%- if folds %}
    select * from folded
    union all
    {%- elif plan.mode == 'update' and not in_place %}
    select * from folded
    union all
    select * from settled
    union all
    select * from kept_days
    union all
    {%- endif %}
    select * from source_days
),

final as (
    select
        {{ truffle_hash_key(ga4_user_state_grain()) }} as user_state_key,
        {{ date_literal(plan.settled_before) }} as settled_before,
        {{ retained_as_of }} as retained_as_of,
        (select count(*) from {{ ref('int_erased_identities') }}) as erasures_counted,
        {{ written_at }} as written_at,
        *
    from state_rows
)

select * from final
{{ truffle_storage_order(['bucket_date nulls first', 'bucket_month']) }}
