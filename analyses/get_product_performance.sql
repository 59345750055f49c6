-- Product performance per item or per item category over a date range: item views
-- (view_item), add-to-carts, purchases and the quantity bought, revenue in one reporting
-- currency (converted at the dated rate) and the view-to-purchase rate (purchases / views;
-- null without views). Read from the items mart: one row per item of each event.
-- Parameters (analyses/_analyses.yml): start_date, end_date, grain, currency.

with

items as (
    select * from {{ ref('items') }}
    where
        event_date >= cast({{ truffle_param('start_date') }} as date)
        and event_date <= cast({{ truffle_param('end_date') }} as date)
),

-- what each row counts for: the item (its id, else its name) or its category
grouped as (
    select
        *,
        case {{ truffle_param('grain') }}
            when 'item_category' then coalesce(item_category, '(not set)')
            else coalesce(item_id, item_name, '(not set)')
        end as product,
        {{ ga4_pick_reporting_amount(truffle_param('currency'), 'item_revenue') }} as reporting_revenue
    from items
),

totals as (
    select
        product,
        max(item_name) as item_name,
        {{ truffle_countif("event_name = 'view_item'") }} as item_views,
        {{ truffle_countif("event_name = 'add_to_cart'") }} as add_to_carts,
        {{ truffle_countif("event_name = 'purchase'") }} as purchases,
        coalesce(sum(case when event_name = 'purchase' then quantity end), 0) as quantity_purchased,
        coalesce(sum(case when event_name = 'purchase' then reporting_revenue end), 0) as revenue
    from grouped
    group by product
),

final as (
    select
        product,
        case when {{ truffle_param('grain') }} = 'item' then item_name end as item_name,
        item_views,
        add_to_carts,
        purchases,
        quantity_purchased,
        revenue,
        {{ truffle_param('currency') }} as reporting_currency,
        cast(purchases as {{ truffle_type('float') }}) / nullif(item_views, 0) as view_to_purchase_rate
    from totals
)

select * from final
order by revenue desc, item_views desc, product asc
