{{ config(post_hook=[unique_index('product_id')]) }}

with

products as (

    select * from {{ ref('dim_products') }}

),

daily as (

    select * from {{ ref('fct_sales_daily') }}

),

period as (

    select {{ days_between('min(sale_date)', 'max(sale_date)') }} + 1 as days_in_period
    from daily

),

sold as (

    select
        product_id,
        sum(sales_count) as sales_count,
        sum(units_sold) as units_sold,
        sum(revenue_cents) as revenue_cents

    from daily
    group by product_id

),

joined as (

    select
        cast(products.product_id as {{ dbt.type_string() }}) as product_id,
        products.product_name,
        products.unit_price,
        products.stock,
        coalesce(sold.sales_count, 0) as sales_count,
        coalesce(sold.units_sold, 0) as units_sold,
        coalesce(sold.revenue_cents, 0) as revenue_cents,
        coalesce(sold.units_sold, 0) * 1.0 / period.days_in_period as average_units_per_day

    from products
    cross join period
    left join sold on products.product_id = sold.product_id

),

final as (

    select
        product_id,
        product_name,
        unit_price,
        sales_count,
        units_sold,
        {{ cents_to_euros('revenue_cents') }} as revenue,
        {{ share_of_total('revenue_cents') }} as revenue_share,
        {{ rank_by('revenue_cents') }} as rank,
        stock,
        average_units_per_day,
        {{ safe_ratio('stock', 'average_units_per_day') }} as stock_cover_days

    from joined

)

select * from final
