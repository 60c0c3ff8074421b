{{ config(post_hook=[unique_index('correction_id')]) }}

{#-
  The corrections people made in the sales sheet, for the client: one row per sale the sheet
  stopped listing inside its dates. When the same loader run stored a new sale on the same line
  of the sheet, the change was an edit (before and after are shown); otherwise a deletion.
  Line numbers pair an edit only while the lines above it did not move: an edit after lines
  were inserted or deleted above shows as one deletion (and a new sale in fct_sales).
-#}

with

retired as (

    select * from {{ ref('int_sales_retired') }}

),

old_sales as (

    select * from {{ ref('stg_sales') }}

),

new_sales as (

    -- a second import of the same model: each is read once, so SQLite probes raw_sales by key
    -- instead of copying it whole
    select * from {{ ref('stg_sales') }}

),

load_runs as (

    select * from {{ ref('stg_loader_runs') }}

),

corrections as (

    select
        old_sale.sale_id as correction_id,
        retired.retired_by_run_id as load_run_id,
        load_runs.started_at as detected_at,
        old_sale.sale_date,
        old_sale.product_id,
        old_sale.store_id,
        old_sale.quantity as quantity_before,
        new_sale.quantity as quantity_after,
        new_sale.sale_date as sale_date_after,
        new_sale.product_id as product_id_after,
        new_sale.store_id as store_id_after,
        case when new_sale.sale_id is null then 'deletion' else 'edit' end as correction_type

    from retired
    inner join old_sales as old_sale on retired.sale_id = old_sale.sale_id
    inner join load_runs on retired.retired_by_run_id = load_runs.load_run_id
    left join new_sales as new_sale
        on
            retired.retired_by_run_id = new_sale.load_run_id
            and old_sale.line_number = new_sale.line_number

)

select * from corrections
