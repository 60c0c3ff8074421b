{#-
  The ratios the analysis marts share, written once so that every breakdown computes them the
  same way: a share of the column's total, a rank by a measure (1 = largest, ties share a
  rank), and a ratio that is null rather than an error when the denominator is 0.
-#}

{% macro share_of_total(measure) -%}
{{ measure }} / nullif(sum({{ measure }}) over (), 0)
{%- endmacro %}

{% macro rank_by(measure) -%}
rank() over (order by {{ measure }} desc)
{%- endmacro %}

{% macro safe_ratio(numerator, denominator) -%}
({{ numerator }}) / nullif({{ denominator }}, 0)
{%- endmacro %}
