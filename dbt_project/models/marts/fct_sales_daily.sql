{{
    config(
        materialized='incremental',
        unique_key='daily_key',
        on_schema_change='append_new_columns',
        post_hook=[unique_index('daily_key'), "{{ remove_emptied_groups(ref('int_sales_retired'), ref('stg_sales'), ref('fct_sales')) }}"],
        **by_day_incremental_config()
    )
}}

{#-
  fct_sales at the grain of a day, a product and a store: the small fact every analysis mart
  reads, so that marts stay cheap to rebuild whatever the size of fct_sales. Incremental by
  day: a run recomputes only the days that received new fct_sales rows since it last ran, and
  the days of sales the sheet retired since (their groups may be gone: the post-hook deletes,
  on the days of retired sales only, the groups fct_sales no longer has). horizon_run_id records the build horizon of each row.
-#}

-- depends_on: {{ ref('int_sales_retired') }}, {{ ref('stg_sales') }} (read by incremental runs only)

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

retired as (

    select * from {{ ref('int_sales_retired') }}

),

raw_sales as (

    select * from {{ ref('stg_sales') }}

),

changed_days as (

    select distinct newly_built.sale_date from newly_built
    -- coalesce: after a first build with no sales, every day is new
    where newly_built.built_at > (select coalesce(max(already.built_at), '') from {{ this }} as already)

    union

    select raw_sales.sale_date
    from retired
    inner join raw_sales on retired.sale_id = raw_sales.sale_id
    where retired.retired_by_run_id > (
            select coalesce(max(already.horizon_run_id), 0) from {{ this }} as already
        )

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
        sum(revenue_cents) as revenue_cents,
        {{ cents_to_euros('sum(revenue_cents)') }} as revenue,
        '{{ run_started_at.isoformat() }}' as built_at,
        (select h.loader_run_id from {{ build_horizon_relation() }} as h) as horizon_run_id

    from sales
    {% if is_incremental() %}
    where sale_date in (select changed_days.sale_date from changed_days)
    {% endif %}
    group by sale_date, product_id, store_id

)

select * from aggregated
