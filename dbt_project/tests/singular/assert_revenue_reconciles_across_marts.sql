-- noqa: disable=AL03
-- (union branches take their column names from the first branch)
-- Fact revenue = mart_revenue_total = the sum of every breakdown mart, to the cent (money is
-- counted in whole cents: exact at any size), and the sales and unit counts agree too.
-- Returns one row per disagreeing figure.
with

fact as (

    select
        coalesce(sum(revenue_cents), 0) as revenue_cents,
        coalesce(sum(quantity), 0) as units,
        count(*) as sales_count

    from {{ ref('fct_sales') }}

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
