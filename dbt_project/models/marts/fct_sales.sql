{{
    config(
        materialized='incremental',
        unique_key='sale_id',
        on_schema_change='fail',
        post_hook=[unique_index('sale_id'), plain_index('sale_date'), plain_index('built_at'), plain_index('load_run_id')]
    )
}}

{#-
  One row per sale whose product and store are known, priced with the product version in
  effect when the sale was loaded. Incremental: a run processes the sales of loader runs newer
  than the newest already here, plus earlier sales whose product or store has just appeared
  (they were in fct_sales_orphans until then). Rows carry the dbt run that wrote them (built_at)
  so that downstream incremental models know what changed.
-#}

with

{% if is_incremental() %}
watermark as (

    -- the newest loader run already in the fact (indexed: one lookup)
    select coalesce(max(load_run_id), 0) as last_load_run_id from {{ this }}

),

new_products as (

    select product_id from {{ ref('dim_product_versions') }}
    where version_number = 1 and load_run_id > (select last_load_run_id from watermark)

),

new_stores as (

    select store_id from {{ ref('dim_stores') }}
    where first_load_run_id > (select last_load_run_id from watermark)

),
{% endif %}

sales as (

    select * from {{ ref('stg_sales') }}
    {% if is_incremental() %}
    where load_run_id > (select last_load_run_id from watermark)

    union all

    -- earlier sales kept out because their product or store was unknown, now known; the
    -- constant exists() lets SQLite skip this scan when no product or store is new
    select * from {{ ref('stg_sales') }}
    where load_run_id <= (select last_load_run_id from watermark)
        and (exists (select 1 from new_products) or exists (select 1 from new_stores))
        and (
            product_id in (select product_id from new_products)
            or store_id in (select store_id from new_stores)
        )
    {% endif %}

),

product_versions as (

    select * from {{ ref('dim_product_versions') }}

),

stores as (

    select * from {{ ref('dim_stores') }}

),

priced as (

    select
        cast(sales.sale_id as {{ dbt.type_string() }}) as sale_id,
        cast(sales.sale_date as {{ dbt.type_string() }}) as sale_date,
        cast(sales.product_id as {{ dbt.type_string() }}) as product_id,
        cast(sales.store_id as {{ dbt.type_string() }}) as store_id,
        cast(sales.quantity as {{ dbt.type_int() }}) as quantity,
        product_versions.product_version_id,
        product_versions.unit_price,
        sales.quantity * product_versions.unit_price as revenue,
        sales.load_run_id,
        sales.loaded_at,
        '{{ run_started_at.isoformat() }}' as built_at

    from sales
    inner join product_versions
        on product_versions.product_id = sales.product_id
        -- the version in effect when the sale was loaded; a sale loaded before its
        -- product's first version takes that first version
        and (product_versions.valid_from <= sales.loaded_at or product_versions.version_number = 1)
        and (product_versions.valid_to is null or sales.loaded_at < product_versions.valid_to)
    inner join stores
        on stores.store_id = sales.store_id

)

select * from priced
