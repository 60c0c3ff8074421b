{#-
  The sales not placed exactly once between fct_sales and fct_sales_orphans (singular test
  assert_every_raw_sale_in_fact_or_orphans). SQLite: key lookups on the two tables' unique
  indexes (a full outer join runs in quadratic time there). Columnar engines: one aggregation
  and a full outer join, which they hash (the lookups, decorrelated, needed more than DuckDB's
  2 GB at 10M sales).
-#}

{% macro sales_not_placed_once(loaded, facts, orphans) -%}
{{ return(adapter.dispatch('sales_not_placed_once', 'ventes_pme')(loaded, facts, orphans)) }}
{%- endmacro %}

{% macro sqlite__sales_not_placed_once(loaded, facts, orphans) -%}
with

raw_sales as (

    select sale_id from {{ loaded }}

),

placements as (

    select
        raw_sales.sale_id,
        (
            select count(*) from {{ facts }} as f
            where f.sale_id = raw_sales.sale_id
        )
        + (
            select count(*) from {{ orphans }} as o
            where o.sale_id = raw_sales.sale_id)
            as times_placed

    from raw_sales

),

strays as (

    select
        sale_id,
        0 as times_placed
    from {{ facts }}
    where sale_id not in (select raw_sales.sale_id from raw_sales)
    union all
    select
        sale_id,
        0 as times_placed
    from {{ orphans }}
    where sale_id not in (select raw_sales.sale_id from raw_sales)

)

select * from placements
where times_placed != 1
union all
select * from strays
{%- endmacro %}

{% macro default__sales_not_placed_once(loaded, facts, orphans) -%}
with

raw_sales as (

    select sale_id from {{ loaded }}

),

placements as (

    select
        sale_id,
        count(*) as times_placed

    from (
        select sale_id from {{ facts }}
        union all
        select sale_id from {{ orphans }}
    ) as both_tables
    group by sale_id

),

checked as (

    select
        coalesce(raw_sales.sale_id, placements.sale_id) as sale_id,
        -- a stray (placed, not a raw sale) counts 0
        case when raw_sales.sale_id is null then 0 else coalesce(placements.times_placed, 0) end as times_placed

    from raw_sales
    full outer join placements on raw_sales.sale_id = placements.sale_id

)

select * from checked
where times_placed != 1
{%- endmacro %}
