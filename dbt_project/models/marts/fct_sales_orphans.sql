{{ config(post_hook=[unique_index('sale_id')]) }}

{#-
  Every sale of the build horizon that fct_sales does not hold, with the reason: its product
  or store is unknown to the feeds: the pending sales fct_sales keeps (macros/examined_runs.sql;
  on Spark, an anti-join on fct_sales), so each sale is in exactly one of the two, which the
  test assert_every_raw_sale_in_fact_or_orphans checks. A warning test reports orphans at each
  build and mart_revenue_total counts them. Rebuilt at each run: it is small, and an orphan
  whose product or store arrives moves to fct_sales by itself.
-#}

-- depends_on: {{ ref('fct_sales') }} (the pending sales are written by its hooks)

with

sales as (

    select * from {{ ref('int_sales_loaded') }}

),

products as (

    select product_id from {{ ref('dim_products') }}

),

stores as (

    select store_id from {{ ref('dim_stores') }}

),

unplaced as (

    {% if tracks_examined_runs() %}
    -- the pending sales fct_sales' hooks keep (macros/examined_runs.sql): exactly the rest
    select * from sales
    where sale_id in (select pending.sale_id from {{ pending_sales_relation() }} as pending)
    {% else %}
    select * from sales
    where not exists (
            select 1 from {{ ref('fct_sales') }} as facts
            where facts.sale_id = sales.sale_id
        )
    {% endif %}

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
