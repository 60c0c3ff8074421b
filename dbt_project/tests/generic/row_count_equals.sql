{#- Fails when the model and another relation do not have the same number of rows. -#}
{% test row_count_equals(model, compare_model) %}

with counts as (

    select
        (select count(*) from {{ model }}) as model_rows,
        (select count(*) from {{ compare_model }}) as compare_rows

)

select * from counts where model_rows != compare_rows

{% endtest %}
