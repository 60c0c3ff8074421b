{#-
  Every store of dim_stores with its sales totals (zero without sales): the one place the two
  breakdowns by store and by city read, so that they count the same stores the same way.
-#}

with

stores as (

    select * from {{ ref('dim_stores') }}

),

daily as (

    select * from {{ ref('fct_sales_daily') }}

),

sold as (

    select
        store_id,
        sum(sales_count) as sales_count,
        sum(units_sold) as units_sold,
        sum(revenue_cents) as revenue_cents

    from daily
    group by store_id

),

final as (

    select
        stores.store_id,
        stores.city,
        stores.employees,
        coalesce(sold.sales_count, 0) as sales_count,
        coalesce(sold.units_sold, 0) as units_sold,
        coalesce(sold.revenue_cents, 0) as revenue_cents

    from stores
    left join sold on stores.store_id = sold.store_id

)

select * from final
