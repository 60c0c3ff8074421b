{{ config(post_hook=[unique_index('product_version_id')]) }}

with

versions as (

    select * from {{ ref('stg_products') }}

),

dated as (

    select
        product_version_id,
        product_id,
        product_name,
        unit_price_cents,
        {{ cents_to_euros('unit_price_cents') }} as unit_price,
        stock,
        load_run_id,
        loaded_at as valid_from,
        lead(loaded_at) over (partition by product_id order by product_version_id) as valid_to,
        row_number() over (partition by product_id order by product_version_id) as version_number

    from versions

),

final as (

    select
        *,
        case when valid_to is null then 1 else 0 end as is_current

    from dated

)

select * from final
