{{ config(post_hook=[unique_index('product_id')]) }}

with

product_versions as (

    select * from {{ ref('dim_product_versions') }}

),

current_versions as (

    select
        product_id,
        product_name,
        unit_price_cents,
        unit_price,
        stock,
        product_version_id as current_version_id,
        valid_from as current_since,
        version_number as version_count

    from product_versions
    where is_current = 1

)

select * from current_versions
