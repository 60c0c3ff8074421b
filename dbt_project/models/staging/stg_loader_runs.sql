with

source as (

    select * from {{ source('warehouse', 'loader_runs') }}

),

renamed as (

    select
        run_id as load_run_id,
        batch_id,
        feed,
        source as source_url,
        status,
        started_at,
        finished_at,
        loaded_at,
        cast(rows_read as integer) as rows_read,
        cast(rows_inserted as integer) as rows_inserted,
        cast(rows_duplicate as integer) as rows_duplicate,
        cast(rows_rejected as integer) as rows_rejected,
        cast(bytes as integer) as bytes,
        sha256,
        error

    from source

)

select * from renamed
