{{
    config(
        materialized='incremental',
        unique_key='daily_key',
        on_schema_change='fail',
        post_hook=[unique_index('daily_key')]
    )
}}

{#-
  Sales aggregated per day, product and store: the small table every analysis mart reads,
  so that marts stay cheap to rebuild whatever the size of fct_sales. Incremental by day: a
  run recomputes only the days that received new fct_sales rows since this model last ran.
-#}

with

{% if is_incremental() %}
changed_days as (

    select distinct sale_date from {{ ref('fct_sales') }}
    where built_at > (select max(built_at) from {{ this }})

),
{% endif %}

sales as (

    select * from {{ ref('fct_sales') }}
    {% if is_incremental() %}
    where sale_date in (select sale_date from changed_days)
    {% endif %}

),

aggregated as (

    select
        {{ dbt.concat(['sale_date', "'|'", 'product_id', "'|'", 'store_id']) }} as daily_key,
        sale_date,
        product_id,
        store_id,
        count(*) as sales_count,
        sum(quantity) as units_sold,
        sum(revenue) as revenue,
        '{{ run_started_at.isoformat() }}' as built_at

    from sales
    group by sale_date, product_id, store_id

)

select * from aggregated
