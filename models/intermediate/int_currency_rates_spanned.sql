{{ config(materialized='table') }}

with

-- the dated rates: the seed, or the user's own table (variable currency_rates_relation)
rates as (
    select
        cast(rate_date as date) as rate_date,
        upper(cast(currency_code as {{ truffle_type('string') }})) as currency_code,
        cast(usd_per_unit as {{ truffle_type('float') }}) as usd_per_unit
    {% if var('currency_rates_relation', none) -%}
    from {{ var('currency_rates_relation') }}
    {%- else -%}
        from {{ ref('currency_rates') }}
    {%- endif %}
),

-- each rate holds from its date until the next one: an as-of lookup becomes a range join
spanned as (
    select
        currency_code,
        rate_date as valid_from_date,
        lead(rate_date) over (partition by currency_code order by rate_date) as valid_to_date,
        usd_per_unit
    from rates
),

-- before the first dated rate the first rate applies, so old data still converts
final as (
    select
        currency_code,
        case
            when valid_from_date = min(valid_from_date) over (partition by currency_code)
                then cast('1900-01-01' as date)
            else valid_from_date
        end as valid_from_date,
        coalesce(valid_to_date, cast('9999-12-31' as date)) as valid_to_date,
        usd_per_unit
    from spanned
)

select * from final
