-- Revenue per conversion day, split by the currency the customer paid in, in one reporting
-- currency (converted at the dated rate) and in the amount paid. Conversions without an amount
-- (sign-ups, leads) pay nothing and are left out; an unknown currency has a null revenue.
-- Parameters (analyses/_analyses.yml): start_date, end_date, currency.

with

conversions as (
    select * from {{ ref('conversions') }}
    where
        conversion_date >= cast({{ truffle_param('start_date') }} as date)
        and conversion_date <= cast({{ truffle_param('end_date') }} as date)
        and local_amount is not null
),

final as (
    select
        conversion_date,
        coalesce(currency, '(none)') as currency_paid,
        count(*) as conversions,
        sum(local_amount) as amount_paid,
        sum(
            case {{ truffle_param('currency') }}
                when 'USD' then revenue_usd
                when 'MXN' then revenue_mxn
                when 'COP' then revenue_cop
            end
        ) as revenue,
        {{ truffle_param('currency') }} as reporting_currency
    from conversions
    group by conversion_date, coalesce(currency, '(none)')
)

select * from final
order by conversion_date, currency_paid
