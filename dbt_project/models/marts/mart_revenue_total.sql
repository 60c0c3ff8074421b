with

daily as (

    select * from {{ ref('fct_sales_daily') }}

),

orphans as (

    select * from {{ ref('fct_sales_orphans') }}

),

orphan_totals as (

    select
        count(*) as orphan_sales_count,
        coalesce(sum(quantity), 0) as orphan_units

    from orphans

),

totals as (

    select
        coalesce(sum(revenue_cents), 0) as total_revenue_cents,
        coalesce(sum(units_sold), 0) as total_units,
        coalesce(sum(sales_count), 0) as sales_count,
        min(sale_date) as first_sale_date,
        max(sale_date) as last_sale_date,
        count(distinct product_id) as products_sold,
        count(distinct store_id) as stores_selling

    from daily

),

final as (

    select
        {{ cents_to_euros('totals.total_revenue_cents') }} as total_revenue,
        totals.total_units,
        totals.sales_count,
        totals.first_sale_date,
        totals.last_sale_date,
        {{ safe_ratio(cents_to_euros('totals.total_revenue_cents'), 'totals.sales_count') }} as average_sale_value,
        totals.products_sold,
        totals.stores_selling,
        orphan_totals.orphan_sales_count,
        orphan_totals.orphan_units

    from totals
    cross join orphan_totals

)

select * from final
