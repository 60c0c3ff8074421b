{#- Fails when the column does not sum to 1 (within tolerance), unless the table is empty or all zero. -#}
{% test sums_to_one(model, column_name, tolerance=0.000001) %}

with totals as (

    select sum({{ column_name }}) as total, count({{ column_name }}) as non_null
    from {{ model }}

)

select *
from totals
where non_null > 0 and abs(total - 1) > {{ tolerance }}

{% endtest %}
