{{
    config(
        materialized='incremental',
        unique_key='erasure_key',
        incremental_strategy=truffle_upsert_strategy(),
    )
}}

{#- The erasure ledger: which erased identities each stored table has had deleted from its
    whole history. Rows are written by the erasure post-hooks (ga4_record_erasures) right
    after their DELETE; the model itself only creates the empty table, so a full refresh
    empties it and the next erasure hooks apply every request again. A nightly whose
    requests are all in the ledger sends no history-wide erasure statement, not even a count. -#}

with

-- no rows of its own: the hooks write them
ledger as (
    select
        cast(null as {{ truffle_type('string') }}) as erasure_key,
        cast(null as {{ truffle_type('string') }}) as table_name,
        cast(null as {{ truffle_type('string') }}) as erased_identity,
        cast(null as {{ truffle_type('timestamp') }}) as applied_at
),

final as (
    select * from ledger
    where false
)

select * from final
