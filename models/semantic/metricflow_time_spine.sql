with

-- the digits 0-9, crossed below into day numbers (portable: no engine's series function,
-- and nothing queried while compiling, so it renders offline for BigQuery too)
digits as (
    select 0 as digit
    union all
    select 1
    union all
    select 2
    union all
    select 3
    union all
    select 4
    union all
    select 5
    union all
    select 6
    union all
    select 7
    union all
    select 8
    union all
    select 9
),

-- day numbers 0 to 9999 from 2018-01-01, kept to the end of 2035
day_numbers as (
    select units.digit + 10 * tens.digit + 100 * hundreds.digit + 1000 * thousands.digit as day_number
    from digits as units
    cross join digits as tens
    cross join digits as hundreds
    cross join digits as thousands
),

-- one row per calendar day over the years a GA4 export can cover: MetricFlow joins metrics
-- to it (metric_time)
final as (
    select {{ truffle_add_days("cast('2018-01-01' as date)", 'day_number') }} as date_day
    from day_numbers
    where day_number < 6574
)

select * from final
