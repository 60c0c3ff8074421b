with

source as (

    select * from {{ source('warehouse', 'raw_products') }}

),

renamed as (

    select
        version_id as product_version_id,
        trim(product_ref) as product_id,
        trim(product_name) as product_name,
        cast(price as {{ dbt.type_numeric() }}) as unit_price,
        cast(stock as integer) as stock,
        content_hash,
        load_run_id,
        loaded_at

    from source

)

select * from renamed
