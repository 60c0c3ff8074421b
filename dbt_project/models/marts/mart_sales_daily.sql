{{ config(post_hook=[unique_index('sale_date')]) }}

with

dates as (

    select * from {{ ref('dim_dates') }}

),

daily as (

    select * from {{ ref('int_sales_by_day') }}

),

every_day as (

    -- one row per calendar day of the period, days without sales included (zeros)
    select
        dates.date_day as sale_date,
        dates.day_name_fr,
        dates.iso_week,
        dates.month_name_fr,
        coalesce(daily.sales_count, 0) as sales_count,
        coalesce(daily.units_sold, 0) as units_sold,
        {{ cents_to_euros('coalesce(daily.revenue_cents, 0)') }} as revenue

    from dates
    left join daily on dates.date_day = daily.sale_date

),

final as (

    select
        *,
        avg(revenue) over (order by sale_date rows between 6 preceding and current row) as revenue_7d_avg

    from every_day

)

select * from final
