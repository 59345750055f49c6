with

-- one row per calendar day over the years a GA4 export can cover: MetricFlow joins metrics
-- to it (metric_time); dbt's own date_spine renders for both engines
spine as (
    {{ dbt.date_spine('day', "cast('2018-01-01' as date)", "cast('2036-01-01' as date)") }}
),

final as (
    select cast(date_day as date) as date_day
    from spine
)

select * from final
