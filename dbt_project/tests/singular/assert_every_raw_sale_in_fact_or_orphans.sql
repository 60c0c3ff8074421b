-- Nothing is lost between layers: every raw sale up to the build horizon is in exactly one of
-- fct_sales and fct_sales_orphans, and neither holds a sale that is not in raw_sales.
-- (Written with key lookups rather than a full outer join, which SQLite runs in quadratic time.)
with

raw_sales as (

    select sale_id from {{ ref('int_sales_loaded') }}

),

placements as (

    select
        raw_sales.sale_id,
        (
            select count(*) from {{ ref('fct_sales') }} as f
            where f.sale_id = raw_sales.sale_id
        )
        + (
            select count(*) from {{ ref('fct_sales_orphans') }} as o
            where o.sale_id = raw_sales.sale_id)
            as times_placed

    from raw_sales

),

strays as (

    select
        sale_id,
        0 as times_placed
    from {{ ref('fct_sales') }}
    where sale_id not in (select raw_sales.sale_id from raw_sales)
    union all
    select
        sale_id,
        0 as times_placed
    from {{ ref('fct_sales_orphans') }}
    where sale_id not in (select raw_sales.sale_id from raw_sales)

)

select * from placements
where times_placed != 1
union all
select * from strays
