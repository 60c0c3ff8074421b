{{ config(post_hook=[unique_index('store_id')]) }}

with

stores as (

    select * from {{ ref('dim_stores') }}

),

daily as (

    select * from {{ ref('fct_sales_daily') }}

),

sold as (

    select
        store_id,
        sum(sales_count) as sales_count,
        sum(units_sold) as units_sold,
        sum(revenue) as revenue

    from daily
    group by store_id

),

joined as (

    select
        stores.store_id,
        stores.city,
        stores.employees,
        coalesce(sold.sales_count, 0) as sales_count,
        coalesce(sold.units_sold, 0) as units_sold,
        coalesce(sold.revenue, 0) as revenue

    from stores
    left join sold on stores.store_id = sold.store_id

),

final as (

    select
        *,
        {{ share_of_total('revenue') }} as revenue_share,
        {{ safe_ratio('revenue', 'employees') }} as revenue_per_employee,
        {{ rank_by('revenue') }} as rank

    from joined

)

select * from final
