{{ config(post_hook=[unique_index('iso_day_of_week')]) }}

{#-
  The week-day pattern: how each day of the week sells on average over the whole history.
  Averages are per calendar day (days without sales count as zero), so a day of the week that
  occurs more often in the period does not look stronger for that reason alone.
-#}

with

daily as (

    select * from {{ ref('mart_sales_daily') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

by_weekday as (

    select
        dates.iso_day_of_week,
        dates.day_name_fr,
        count(*) as day_count,
        sum(daily.sales_count) as sales_count,
        sum(daily.units_sold) as units_sold,
        sum(daily.revenue) as revenue

    from daily
    inner join dates on daily.sale_date = dates.date_day
    group by dates.iso_day_of_week, dates.day_name_fr

),

final as (

    select
        *,
        {{ safe_ratio('revenue', 'day_count') }} as average_daily_revenue,
        {{ safe_ratio('revenue', 'sales_count') }} as average_sale_value,
        {{ share_of_total('revenue') }} as revenue_share

    from by_weekday

)

select * from final
