{{
    config(
        materialized='incremental',
        unique_key='retention_key',
        incremental_strategy=truffle_upsert_strategy(),
    )
}}

{#- The retention ledger: the date each stored table's retention was last applied as of.
    Rows are written by the retention post-hooks (ga4_record_retention) right after their
    DELETE; the model itself only creates the empty table, so a full refresh empties it and
    the next retention hooks read every partition before their cutoffs once. With a row, a
    nightly's retention reads only the days that crossed a cutoff since then. -#}

with

-- no rows of its own: the hooks write them
ledger as (
    select
        cast(null as {{ truffle_type('string') }}) as retention_key,
        cast(null as {{ truffle_type('string') }}) as table_name,
        cast(null as date) as retained_as_of,
        cast(null as {{ truffle_type('timestamp') }}) as applied_at
),

final as (
    select * from ledger
    where false
)

select * from final
