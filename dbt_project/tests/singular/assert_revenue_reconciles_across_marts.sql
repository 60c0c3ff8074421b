-- noqa: disable=AL03
-- (union branches take their column names from the first branch)
-- Fact revenue = mart_revenue_total = the sum of every breakdown mart (to the cent fraction),
-- and the sales and unit counts agree too. Returns one row per disagreeing figure.
with

fact as (

    select
        coalesce(sum(revenue), 0) as revenue,
        coalesce(sum(quantity), 0) as units,
        count(*) as sales_count

    from {{ ref('fct_sales') }}

),

figures as (

    select
        'mart_revenue_total' as mart,
        total_revenue as revenue,
        total_units as units,
        sales_count
    from {{ ref('mart_revenue_total') }}
    union all
    select
        'mart_sales_by_product',
        sum(revenue),
        sum(units_sold),
        sum(sales_count)
    from {{ ref('mart_sales_by_product') }}
    union all
    select
        'mart_sales_by_store',
        sum(revenue),
        sum(units_sold),
        sum(sales_count)
    from {{ ref('mart_sales_by_store') }}
    union all
    select
        'mart_sales_by_city',
        sum(revenue),
        sum(units_sold),
        sum(sales_count)
    from {{ ref('mart_sales_by_city') }}
    union all
    select
        'mart_sales_daily',
        sum(revenue),
        sum(units_sold),
        sum(sales_count)
    from {{ ref('mart_sales_daily') }}
    union all
    select
        'mart_sales_by_weekday',
        sum(revenue),
        sum(units_sold),
        sum(sales_count)
    from {{ ref('mart_sales_by_weekday') }}
    union all
    select
        'fct_sales_daily',
        sum(revenue),
        sum(units_sold),
        sum(sales_count)
    from {{ ref('fct_sales_daily') }}

)

select
    figures.mart,
    figures.revenue as mart_revenue,
    fact.revenue as fact_revenue,
    figures.units as mart_units,
    fact.units as fact_units,
    figures.sales_count as mart_sales_count,
    fact.sales_count as fact_sales_count

from figures
cross join fact
where abs(coalesce(figures.revenue, 0) - fact.revenue) > 0.001
    or coalesce(figures.units, 0) != fact.units
    or coalesce(figures.sales_count, 0) != fact.sales_count
