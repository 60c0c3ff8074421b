{{ config(post_hook=[unique_index('date_day')]) }}

with recursive

bounds as (

    -- two lookups at the ends of fct_sales' index on sale_date: min and max in one select,
    -- or over a CTE read twice (which SQLite copies), would read every sale
    select
        (select min(sale_date) from {{ ref('fct_sales') }}) as first_day,
        (select max(sale_date) from {{ ref('fct_sales') }}) as last_day

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
