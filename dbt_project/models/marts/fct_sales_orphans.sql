{{ config(post_hook=[unique_index('sale_id')]) }}

{#-
  Sales whose product or store is unknown (not in the products / stores feeds). They are kept
  out of fct_sales but never lost: they are listed here, counted in mart_revenue_total and
  flagged by a warning test. They move to fct_sales as soon as the missing product or store
  is loaded.
-#}

with

sales as (

    select * from {{ ref('stg_sales') }}

),

products as (

    select product_id from {{ ref('dim_products') }}

),

stores as (

    select store_id from {{ ref('dim_stores') }}

),

orphans as (

    select
        sales.sale_id,
        sales.sale_date,
        sales.product_id,
        sales.store_id,
        sales.quantity,
        sales.load_run_id,
        sales.loaded_at,
        case
            when products.product_id is null and stores.store_id is null then 'unknown product and store'
            when products.product_id is null then 'unknown product'
            else 'unknown store'
        end as orphan_reason

    from sales
    left join products on products.product_id = sales.product_id
    left join stores on stores.store_id = sales.store_id
    where products.product_id is null or stores.store_id is null

)

select * from orphans
