-- noqa: disable=AL03
-- (union branches take their column names from the first branch)
-- Fact revenue = mart_revenue_total = the sum of every breakdown mart, to the cent (money is
-- counted in whole cents: exact at any size), and the sales and unit counts agree too.
-- Returns one row per disagreeing figure.
-- A scoped run (macros/test_scope.sql) sums fct_sales_daily, the aggregate maintained
-- incrementally, instead of every sale, and compares it with fct_sales group by group on the
-- days written since the last build that passed. A whole run sums fct_sales itself (which
-- covers fct_sales_daily, one of the figures) and has no days to compare.
with

touched_days as (

    {% if tests_scoped() -%}
    select sale_date from {{ ref('fct_sales') }}
    where {{ in_test_scope('built_at') }}
    union
    select sale_date from {{ ref('fct_sales_daily') }}
    where {{ in_test_scope('built_at') }}
    {%- else -%}
    select sale_date from {{ ref('fct_sales_daily') }}
    where 1 = 0
    {%- endif %}

),

both_sides as (

    -- each group of those days, from the sales and from fct_sales_daily, side by side
    select
        sale_date,
        product_id,
        store_id,
        revenue_cents as fact_revenue_cents,
        quantity as fact_units,
        1 as fact_sales_count,
        0 as mart_revenue_cents,
        0 as mart_units,
        0 as mart_sales_count

    from {{ ref('fct_sales') }}
    where sale_date in (select touched_days.sale_date from touched_days)

    union all

    select
        sale_date,
        product_id,
        store_id,
        0,
        0,
        0,
        revenue_cents,
        units_sold,
        sales_count

    from {{ ref('fct_sales_daily') }}
    where sale_date in (select touched_days.sale_date from touched_days)

),

group_differences as (

    select
        'fct_sales_daily ' || sale_date || ' ' || product_id || ' ' || store_id as mart,
        sum(mart_revenue_cents) as mart_revenue_cents,
        sum(fact_revenue_cents) as fact_revenue_cents,
        sum(mart_units) as mart_units,
        sum(fact_units) as fact_units,
        sum(mart_sales_count) as mart_sales_count,
        sum(fact_sales_count) as fact_sales_count

    from both_sides
    group by sale_date, product_id, store_id
    having
        sum(mart_revenue_cents) != sum(fact_revenue_cents)
        or sum(mart_units) != sum(fact_units)
        or sum(mart_sales_count) != sum(fact_sales_count)

),

fact as (

    {% if tests_scoped() -%}
    select
        coalesce(sum(revenue_cents), 0) as revenue_cents,
        coalesce(sum(units_sold), 0) as units,
        coalesce(sum(sales_count), 0) as sales_count
    from {{ ref('fct_sales_daily') }}
    {%- else -%}
    select
        coalesce(sum(revenue_cents), 0) as revenue_cents,
        coalesce(sum(quantity), 0) as units,
        count(*) as sales_count
    from {{ ref('fct_sales') }}
    {%- endif %}

),

figures as (

    select
        'mart_revenue_total' as mart,
        round(total_revenue * 100) as revenue_cents,
        total_units as units,
        sales_count
    from {{ ref('mart_revenue_total') }}
    union all
    select
        'mart_sales_by_product',
        round(sum(revenue) * 100),
        sum(units_sold),
        sum(sales_count)
    from {{ ref('mart_sales_by_product') }}
    union all
    select
        'mart_sales_by_store',
        round(sum(revenue) * 100),
        sum(units_sold),
        sum(sales_count)
    from {{ ref('mart_sales_by_store') }}
    union all
    select
        'mart_sales_by_city',
        round(sum(revenue) * 100),
        sum(units_sold),
        sum(sales_count)
    from {{ ref('mart_sales_by_city') }}
    union all
    select
        'mart_sales_daily',
        round(sum(revenue) * 100),
        sum(units_sold),
        sum(sales_count)
    from {{ ref('mart_sales_daily') }}
    union all
    select
        'mart_sales_by_weekday',
        round(sum(revenue) * 100),
        sum(units_sold),
        sum(sales_count)
    from {{ ref('mart_sales_by_weekday') }}
    union all
    select
        'fct_sales_daily',
        sum(revenue_cents),
        sum(units_sold),
        sum(sales_count)
    from {{ ref('fct_sales_daily') }}

)

select
    figures.mart,
    figures.revenue_cents as mart_revenue_cents,
    fact.revenue_cents as fact_revenue_cents,
    figures.units as mart_units,
    fact.units as fact_units,
    figures.sales_count as mart_sales_count,
    fact.sales_count as fact_sales_count

from figures
cross join fact
where coalesce(figures.revenue_cents, 0) != fact.revenue_cents
    or coalesce(figures.units, 0) != fact.units
    or coalesce(figures.sales_count, 0) != fact.sales_count
union all
select
    mart,
    mart_revenue_cents,
    fact_revenue_cents,
    mart_units,
    fact_units,
    mart_sales_count,
    fact_sales_count
from group_differences
