{{ config(post_hook=[unique_index('store_id')]) }}

with

stores as (

    select * from {{ ref('int_sales_by_store') }}

),

final as (

    select
        store_id,
        city,
        employees,
        sales_count,
        units_sold,
        {{ cents_to_euros('revenue_cents') }} as revenue,
        {{ share_of_total('revenue_cents') }} as revenue_share,
        {{ safe_ratio(cents_to_euros('revenue_cents'), 'employees') }} as revenue_per_employee,
        {{ rank_by('revenue_cents') }} as rank

    from stores

)

select * from final
