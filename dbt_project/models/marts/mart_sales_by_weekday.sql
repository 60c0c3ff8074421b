{{ config(post_hook=[unique_index('iso_day_of_week')]) }}

{#-
  The week-day pattern: how each day of the week sells on average over the whole history.
  Averages are per calendar day (days without sales count as zero), so a day of the week that
  occurs more often in the period does not look stronger for that reason alone.
-#}

with

dates as (

    select * from {{ ref('dim_dates') }}

),

daily as (

    select * from {{ ref('int_sales_by_day') }}

),

by_weekday as (

    select
        dates.iso_day_of_week,
        dates.day_name_fr,
        count(*) as day_count,
        coalesce(sum(daily.sales_count), 0) as sales_count,
        coalesce(sum(daily.units_sold), 0) as units_sold,
        coalesce(sum(daily.revenue_cents), 0) as revenue_cents

    from dates
    left join daily on dates.date_day = daily.sale_date
    group by dates.iso_day_of_week, dates.day_name_fr

),

final as (

    select
        iso_day_of_week,
        day_name_fr,
        day_count,
        sales_count,
        units_sold,
        {{ cents_to_euros('revenue_cents') }} as revenue,
        {{ safe_ratio(cents_to_euros('revenue_cents'), 'day_count') }} as average_daily_revenue,
        {{ safe_ratio(cents_to_euros('revenue_cents'), 'sales_count') }} as average_sale_value,
        {{ share_of_total('revenue_cents') }} as revenue_share

    from by_weekday

)

select * from final
