{{ config(post_hook=[unique_index('date_day')]) }}

with recursive

sales as (

    select sale_date from {{ ref('fct_sales') }}

),

bounds as (

    -- read once, through fct_sales' covering index on sale_date
    select
        min(sale_date) as first_day,
        max(sale_date) as last_day

    from sales

),

spine as (

    {{ every_day('spine', 'bounds') }}

),

calendar as (

    select
        date_day,
        {{ iso_day_of_week('date_day') }} as iso_day_of_week,
        {{ iso_week('date_day') }} as iso_week,
        {{ iso_year('date_day') }} as iso_year,
        {{ date_part_number('day', 'date_day') }} as day_of_month,
        {{ date_part_number('month', 'date_day') }} as month_number,
        {{ date_part_number('quarter', 'date_day') }} as quarter_number,
        {{ date_part_number('year', 'date_day') }} as year_number

    from spine

),

final as (

    select
        *,
        {{ french_day_name('iso_day_of_week') }} as day_name_fr,
        {{ french_month_name('month_number') }} as month_name_fr,
        case when iso_day_of_week >= 6 then 1 else 0 end as is_weekend

    from calendar

)

select * from final
