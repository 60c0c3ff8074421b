with

source as (

    select * from {{ source('warehouse', 'raw_products') }}

),

renamed as (

    select
        version_id as product_version_id,
        trim(product_ref) as product_id,
        trim(product_name) as product_name,
        cast(price_cents as integer) as unit_price_cents,
        cast(stock as integer) as stock,
        content_hash,
        load_run_id,
        loaded_at

    from source

)

select * from renamed
