{{ config(post_hook=[unique_index('city')]) }}

with

stores as (

    -- every store counts, with or without sales, as in mart_sales_by_store
    select * from {{ ref('int_sales_by_store') }}

),

cities as (

    select
        city,
        count(*) as store_count,
        sum(employees) as employees,
        sum(sales_count) as sales_count,
        sum(units_sold) as units_sold,
        sum(revenue_cents) as revenue_cents

    from stores
    group by city

),

final as (

    select
        city,
        store_count,
        employees,
        sales_count,
        units_sold,
        {{ cents_to_euros('revenue_cents') }} as revenue,
        {{ share_of_total('revenue_cents') }} as revenue_share,
        {{ safe_ratio(cents_to_euros('revenue_cents'), 'employees') }} as revenue_per_employee,
        {{ rank_by('revenue_cents') }} as rank

    from cities

)

select * from final
