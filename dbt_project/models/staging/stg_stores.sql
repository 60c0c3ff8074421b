with

source as (

    select * from {{ source('warehouse', 'raw_stores') }}

),

renamed as (

    select
        version_id as store_version_id,
        trim(store_id) as store_id,
        trim(city) as city,
        cast(employees as integer) as employees,
        content_hash,
        load_run_id,
        loaded_at

    from source

)

select * from renamed
