{{
    config(
        materialized='incremental',
        unique_key='invocation_id',
        full_refresh=false,
        on_schema_change='append_new_columns'
    )
}}

{#-
  One row appended per dbt run: the headline results as they were at that run, so the stored
  results keep their history as the live feed grows. full_refresh=false: a --full-refresh
  rebuilds everything else but never erases this history.
-#}

with

totals as (

    select * from {{ ref('mart_revenue_total') }}

),

load_runs as (

    select * from {{ ref('stg_loader_runs') }}

),

latest_load as (

    select max(loaded_at) as data_loaded_at
    from load_runs
    where status = 'loaded'

),

final as (

    select
        '{{ invocation_id }}' as invocation_id,
        '{{ run_started_at.isoformat() }}' as run_at,
        latest_load.data_loaded_at,
        totals.total_revenue,
        totals.total_units,
        totals.sales_count,
        totals.average_sale_value,
        totals.first_sale_date,
        totals.last_sale_date,
        totals.orphan_sales_count

    from totals
    cross join latest_load

)

select * from final
