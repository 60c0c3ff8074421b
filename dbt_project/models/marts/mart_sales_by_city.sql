{{ config(post_hook=[unique_index('city')]) }}

with

stores as (

    select * from {{ ref('mart_sales_by_store') }}

),

cities as (

    select
        city,
        count(*) as store_count,
        sum(employees) as employees,
        sum(sales_count) as sales_count,
        sum(units_sold) as units_sold,
        sum(revenue) as revenue

    from stores
    group by city

),

final as (

    select
        *,
        revenue / nullif(sum(revenue) over (), 0) as revenue_share,
        revenue / nullif(employees, 0) as revenue_per_employee,
        rank() over (order by revenue desc) as rank

    from cities

)

select * from final
