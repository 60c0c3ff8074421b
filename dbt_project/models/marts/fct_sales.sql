{{
    config(
        materialized='incremental',
        unique_key='sale_id',
        on_schema_change='fail',
        pre_hook=["{{ forget_pending_sales() }}", "{{ forget_examined_runs() }}"],
        post_hook=[
            unique_index('sale_id'), plain_index('sale_date'), plain_index('built_at'), plain_index('load_run_id'),
            "{{ remove_retired_sales(ref('int_sales_retired')) }}",
            "{{ add_pending_sales(ref('int_sales_loaded'), ref('stg_sales_events')) }}",
            "{{ prune_pending_sales(ref('int_sales_loaded')) }}",
            "{{ record_examined_runs() }}"
        ],
        **by_day_incremental_config()
    )
}}

{#-
  One row per sale whose product and store are known, priced with the product version in
  effect when the sale was loaded. Incremental by what is new (macros/examined_runs.sql): a
  build examines the sales of the loader runs it has not examined yet, the sales the sheet
  retired or restored in those runs, and the pending sales (examined before, product or store
  unknown then), so its work follows the new data, not the history. A pending sale comes in as
  soon as its product and store are known, whatever order the loader committed them in. Rows
  carry the dbt run that wrote them (built_at) so that downstream incremental models know what
  changed. A sale the sheet retired (a deletion, or the old side of an edit) leaves at the
  next build (post-hook); if the sheet lists it again, its restoration brings it back.
-#}

-- depends_on: {{ ref('stg_sales_events') }} (read by incremental runs only)

with

sales as (

    select * from {{ ref('int_sales_loaded') }}

),

product_versions as (

    select * from {{ ref('dim_product_versions') }}

),

stores as (

    select * from {{ ref('dim_stores') }}

),

{% if is_incremental() and rewrites_whole_days() %}
built as (

    select
        sale_id,
        sale_date
    from {{ this }}

),

retired as (

    select * from {{ ref('int_sales_retired') }}

),

touched_days as (

    -- engines that rewrite whole days (macros/engines.sql): every sale of a day with a sale
    -- not built yet or a built sale since retired
    select sales.sale_date from sales
    where not exists (
            select 1 from built
            where built.sale_id = sales.sale_id
        )

    union

    select built.sale_date
    from built
    inner join retired on built.sale_id = retired.sale_id

),

new_sales as (

    select * from sales
    where sale_date in (select touched_days.sale_date from touched_days)

),
{% elif is_incremental() %}
to_examine as (

    {{ sales_to_examine(ref('int_sales_loaded'), ref('stg_sales_events')) }}

),

already_built as (

    select sale_id from {{ this }}

),

new_sales as (

    select * from sales
    where
        sale_id in (select to_examine.sale_id from to_examine)
        and not exists (
            select 1 from already_built
            where already_built.sale_id = sales.sale_id
        )

),
{% else %}
new_sales as (

    select * from sales

),
{% endif %}

priced as (

    select
        cast(new_sales.sale_id as {{ dbt.type_string() }}) as sale_id,
        new_sales.sale_date,
        cast(new_sales.product_id as {{ dbt.type_string() }}) as product_id,
        cast(new_sales.store_id as {{ dbt.type_string() }}) as store_id,
        cast(new_sales.quantity as {{ dbt.type_int() }}) as quantity,
        product_versions.product_version_id,
        product_versions.unit_price_cents,
        product_versions.unit_price,
        new_sales.quantity * product_versions.unit_price_cents as revenue_cents,
        {{ cents_to_euros('new_sales.quantity * product_versions.unit_price_cents') }} as revenue,
        new_sales.load_run_id,
        new_sales.loaded_at,
        '{{ run_started_at.isoformat() }}' as built_at

    from new_sales
    inner join product_versions
        on
            new_sales.product_id = product_versions.product_id
            -- the version in effect when the sale was loaded; a sale loaded before its
            -- product's first version takes that first version
            and (new_sales.loaded_at >= product_versions.valid_from or product_versions.version_number = 1)
            and (product_versions.valid_to is null or new_sales.loaded_at < product_versions.valid_to)
    inner join stores
        on new_sales.store_id = stores.store_id

)

select * from priced
