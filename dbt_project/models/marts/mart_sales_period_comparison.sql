{{ config(post_hook=[unique_index(['scope', 'item_id'])]) }}

{#-
  The sales dynamics: the last `comparison_days` days of sales (7 by default, a week against the week before; ending on the
  last day with a sale) against the same number of days just before, in total, by product and
  by city: value of each period, change in euros and in percent. The dashboard makes the same
  comparison for any period a manager picks; this mart is the default one, for the synthesis
  sheet and any SQL client.
-#}

{%- set days = var('comparison_days', 7) %}

with

daily as (

    select * from {{ ref('fct_sales_daily') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

stores as (

    select * from {{ ref('dim_stores') }}

),

bounds as (

    select
        {{ add_days('max(sale_date)', 1 - days) }} as current_start,
        max(sale_date) as current_end,
        {{ add_days('max(sale_date)', 1 - 2 * days) }} as previous_start,
        {{ add_days('max(sale_date)', - days) }} as previous_end

    from daily

),

in_periods as (

    select
        daily.product_id,
        stores.city,
        daily.sales_count,
        daily.units_sold,
        daily.revenue_cents,
        daily.sale_date >= bounds.current_start as is_current

    from daily
    cross join bounds
    inner join stores on daily.store_id = stores.store_id
    where daily.sale_date >= bounds.previous_start

),

items as (

    select
        'total' as scope,
        'total' as item_id,
        'Total' as item_label
    from bounds
    union all
    select
        'product' as scope,
        product_id as item_id,
        product_name as item_label
    from products
    union all
    select distinct
        'city' as scope,
        city as item_id,
        city as item_label
    from stores

),

measured as (

    select
        items.scope,
        items.item_id,
        coalesce(sum(case when in_periods.is_current then in_periods.revenue_cents end), 0) as current_cents,
        coalesce(sum(case when not in_periods.is_current then in_periods.revenue_cents end), 0) as previous_cents,
        coalesce(sum(case when in_periods.is_current then in_periods.units_sold end), 0) as current_units,
        coalesce(sum(case when not in_periods.is_current then in_periods.units_sold end), 0) as previous_units,
        coalesce(sum(case when in_periods.is_current then in_periods.sales_count end), 0) as current_sales,
        coalesce(sum(case when not in_periods.is_current then in_periods.sales_count end), 0) as previous_sales

    from items
    left join in_periods
        on
            items.scope = 'total'
            or (items.scope = 'product' and items.item_id = in_periods.product_id)
            or (items.scope = 'city' and items.item_id = in_periods.city)
    group by items.scope, items.item_id

),

final as (

    select
        items.scope,
        items.item_id,
        items.item_label,
        {{ days }} as period_days,
        bounds.current_start,
        bounds.current_end,
        bounds.previous_start,
        bounds.previous_end,
        {{ cents_to_euros('measured.current_cents') }} as current_revenue,
        {{ cents_to_euros('measured.previous_cents') }} as previous_revenue,
        {{ cents_to_euros('measured.current_cents - measured.previous_cents') }} as revenue_change,
        {{ safe_ratio('measured.current_cents - measured.previous_cents', 'measured.previous_cents') }}
            as revenue_change_share,
        measured.current_units,
        measured.previous_units,
        measured.current_sales,
        measured.previous_sales,
        {{ safe_ratio(cents_to_euros('measured.current_cents'), 'measured.current_sales') }}
            as current_average_sale_value,
        {{ safe_ratio(cents_to_euros('measured.previous_cents'), 'measured.previous_sales') }}
            as previous_average_sale_value

    from measured
    inner join items on measured.scope = items.scope and measured.item_id = items.item_id
    cross join bounds

)

select * from final
