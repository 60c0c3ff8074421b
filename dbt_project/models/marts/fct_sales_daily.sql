{{
    config(
        materialized='incremental',
        unique_key='daily_key',
        on_schema_change='fail',
        post_hook=[unique_index('daily_key')]
    )
}}

{#-
  fct_sales at the grain of a day, a product and a store: the small fact every analysis mart
  reads, so that marts stay cheap to rebuild whatever the size of fct_sales. Incremental by
  day: a run recomputes only the days that received new fct_sales rows since it last ran.
-#}

with

sales as (

    select * from {{ ref('fct_sales') }}

),

{% if is_incremental() %}
newly_built as (

    -- a second import of fct_sales: each is read once, so SQLite reads both through indexes
    select
        sale_date,
        built_at
    from {{ ref('fct_sales') }}

),

changed_days as (

    select distinct newly_built.sale_date from newly_built
    -- coalesce: after a first build with no sales, every day is new
    where newly_built.built_at > (select coalesce(max(already.built_at), '') from {{ this }} as already)

),
{% endif %}

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
    {% if is_incremental() %}
    where sale_date in (select changed_days.sale_date from changed_days)
    {% endif %}
    group by sale_date, product_id, store_id

)

select * from aggregated
