{#-
  The sales a build works on: every sale of the loader runs committed before the build
  started (the build horizon, macros/build_horizon.sql), with its run's load time. A loader
  that commits while dbt builds is seen by the next build, never half by this one.
-#}

with

sales as (

    select * from {{ ref('stg_sales') }}

),

load_runs as (

    select * from {{ ref('stg_loader_runs') }}

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
    where sales.load_run_id <= (select horizon.loader_run_id from horizon)

)

select * from loaded
