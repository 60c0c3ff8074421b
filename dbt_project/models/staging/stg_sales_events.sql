with

source as (

    select * from {{ source('warehouse', 'raw_sales_events') }}

),

renamed as (

    select
        event_id,
        sale_id,
        run_id as load_run_id,
        event,
        reason

    from source

)

select * from renamed
