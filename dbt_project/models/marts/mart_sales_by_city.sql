{{ config(post_hook=[unique_index('city')]) }}

with

stores as (

    select * from {{ ref('dim_stores') }}

),

daily as (

    select * from {{ ref('fct_sales_daily') }}

),

sold_by_store as (

    select
        store_id,
        sum(sales_count) as sales_count,
        sum(units_sold) as units_sold,
        sum(revenue) as revenue

    from daily
    group by store_id

),

cities as (

    -- every store counts, with or without sales, as in mart_sales_by_store
    select
        stores.city,
        count(*) as store_count,
        sum(stores.employees) as employees,
        coalesce(sum(sold_by_store.sales_count), 0) as sales_count,
        coalesce(sum(sold_by_store.units_sold), 0) as units_sold,
        coalesce(sum(sold_by_store.revenue), 0) as revenue

    from stores
    left join sold_by_store on stores.store_id = sold_by_store.store_id
    group by stores.city

),

final as (

    select
        *,
        {{ share_of_total('revenue') }} as revenue_share,
        {{ safe_ratio('revenue', 'employees') }} as revenue_per_employee,
        {{ rank_by('revenue') }} as rank

    from cities

)

select * from final
