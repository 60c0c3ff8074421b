{#-
  The sales not placed exactly once between fct_sales and fct_sales_orphans (singular test
  assert_every_raw_sale_in_fact_or_orphans). SQLite: key lookups on the two tables' unique
  indexes (a full outer join runs in quadratic time there). Columnar engines: one aggregation
  and a full outer join, which they hash (the lookups, decorrelated, needed more than DuckDB's
  2 GB at 10M sales).
-#}

{% macro sales_not_placed_once(loaded, facts, orphans, events) -%}
{{ return(adapter.dispatch('sales_not_placed_once', 'ventes_pme')(loaded, facts, orphans, events)) }}
{%- endmacro %}

{#-
  The sales a scoped test run checks (macros/test_scope.sql): the sales of loader runs not
  tested yet, the sales the sheet retired or restored since, the fact rows written since, and
  every orphan (few). Each is looked up in the whole of the other tables, so a new row that
  duplicates, or strays from, an old one still fails. Renders nothing when testing everything.
-#}
{% macro placements_checked(loaded, facts, orphans, events) -%}
{%- if tests_scoped() -%}
checked as (

    select sale_id from {{ loaded }} where {{ in_test_scope('load_run_id') }}
    union
    select sale_id from {{ events }} where {{ in_test_scope('load_run_id') }}
    union
    select sale_id from {{ facts }} where {{ in_test_scope('built_at') }}
    union
    select sale_id from {{ orphans }}

),
{%- endif -%}
{%- endmacro %}

{#- `and` the condition that a sale is one the run checks (all of them when not scoped) -#}
{% macro and_checked(column) -%}
{%- if tests_scoped() %} and {{ column }} in (select checked.sale_id from checked){% endif -%}
{%- endmacro %}

{% macro sqlite__sales_not_placed_once(loaded, facts, orphans, events) -%}
with

{{ placements_checked(loaded, facts, orphans, events) }}

raw_sales as (

    select sale_id from {{ loaded }}
    where 1 = 1{{ and_checked('sale_id') }}

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
    where sale_id not in (select raw_sales.sale_id from raw_sales){{ and_checked('sale_id') }}
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

{% macro default__sales_not_placed_once(loaded, facts, orphans, events) -%}
with

{{ placements_checked(loaded, facts, orphans, events) }}

raw_sales as (

    select sale_id from {{ loaded }}
    where 1 = 1{{ and_checked('sale_id') }}

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
    where 1 = 1{{ and_checked('sale_id') }}
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
