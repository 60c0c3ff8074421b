{{ config(post_hook=[unique_index('store_id')]) }}

with

store_versions as (

    select * from {{ ref('stg_stores') }}

),

ranked as (

    select
        *,
        row_number() over (partition by store_id order by store_version_id desc) as recency,
        count(*) over (partition by store_id) as version_count,
        min(load_run_id) over (partition by store_id) as first_load_run_id

    from store_versions

),

current_versions as (

    select
        store_id,
        city,
        employees,
        store_version_id as current_version_id,
        loaded_at as current_since,
        version_count,
        first_load_run_id

    from ranked
    where recency = 1

)

select * from current_versions
