with

source as (

    select * from {{ source('warehouse', 'raw_sales') }}

),

load_runs as (

    -- the load time of a sale is its run's: the loader stores it once per run, not per row
    select run_id, loaded_at from {{ source('warehouse', 'loader_runs') }}

),

renamed as (

    select
        source.sale_id,
        {{ as_date('source.sale_date') }} as sale_date,
        trim(source.product_ref) as product_id,
        trim(source.store_id) as store_id,
        cast(source.quantity as integer) as quantity,
        source.load_run_id,
        load_runs.loaded_at

    from source
    left join load_runs on load_runs.run_id = source.load_run_id

)

select * from renamed
