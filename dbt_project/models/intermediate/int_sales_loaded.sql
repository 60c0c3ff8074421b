{#-
  The sales a build works on: every live sale of the loader runs committed before the build
  started (the build horizon, macros/build_horizon.sql), with its run's load time. A loader
  that commits while dbt builds is seen by the next build, never half by this one. Live: not
  retired by the sheet (int_sales_retired); a sale that aged out of a rolling window stays.
-#}

with

sales as (

    select * from {{ ref('stg_sales') }}

),

load_runs as (

    select * from {{ ref('stg_loader_runs') }}

),

retired as (

    select * from {{ ref('int_sales_retired') }}

),

horizon as (

    select loader_run_id from {{ build_horizon_relation() }}

),

loaded as (

    select
        sales.sale_id,
        sales.sale_date,
        sales.product_id,
        sales.store_id,
        sales.quantity,
        sales.load_run_id,
        load_runs.loaded_at

    from sales
    inner join load_runs on sales.load_run_id = load_runs.load_run_id
    where
        sales.load_run_id <= (select horizon.loader_run_id from horizon)
        and not exists (
            select 1 from retired
            where retired.sale_id = sales.sale_id
        )

)

select * from loaded
