{{ config(post_hook=[unique_index('sale_id')]) }}

{#-
  Every sale of the build horizon that fct_sales does not hold, with the reason: its product
  or store is unknown to the feeds. Defined as that difference (an anti-join on fct_sales'
  unique index), so each sale is in exactly one of the two by construction; a warning test
  reports orphans at each build and mart_revenue_total counts them. Rebuilt at each run: it
  is small, and an orphan whose product or store arrives moves to fct_sales by itself.
-#}

with

sales as (

    select * from {{ ref('int_sales_loaded') }}

),

facts as (

    select sale_id from {{ ref('fct_sales') }}

),

products as (

    select product_id from {{ ref('dim_products') }}

),

stores as (

    select store_id from {{ ref('dim_stores') }}

),

unplaced as (

    select * from sales
    where not exists (
            select 1 from facts
            where facts.sale_id = sales.sale_id
        )

),

orphans as (

    select
        unplaced.sale_id,
        unplaced.sale_date,
        unplaced.product_id,
        unplaced.store_id,
        unplaced.quantity,
        unplaced.load_run_id,
        unplaced.loaded_at,
        case
            when products.product_id is null and stores.store_id is null then 'unknown product and store'
            when products.product_id is null then 'unknown product'
            when stores.store_id is null then 'unknown store'
            else 'no price in effect'
        end as orphan_reason

    from unplaced
    left join products on unplaced.product_id = products.product_id
    left join stores on unplaced.store_id = stores.store_id

)

select * from orphans
