with

source as (

    select * from {{ source('warehouse', 'raw_sales') }}

),

renamed as (

    select
        sale_id,
        {{ as_date('sale_date') }} as sale_date,
        trim(product_ref) as product_id,
        trim(store_id) as store_id,
        cast(quantity as integer) as quantity,
        load_run_id,
        line_number

    from source

)

select * from renamed
