{#-
  fct_sales_daily summed by day, revenue in whole cents: the one place the daily and the
  week-day marts read, so that they count each day the same way.
-#}

with

daily as (

    select * from {{ ref('fct_sales_daily') }}

),

by_day as (

    select
        sale_date,
        sum(sales_count) as sales_count,
        sum(units_sold) as units_sold,
        sum(revenue_cents) as revenue_cents

    from daily
    group by sale_date

)

select * from by_day
