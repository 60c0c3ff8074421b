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
        revenue,
        {{ share_of_total('revenue') }} as revenue_share,
        {{ safe_ratio('revenue', 'employees') }} as revenue_per_employee,
        {{ rank_by('revenue') }} as rank

    from stores

)

select * from final
