{#-
  The ratios the analysis marts share, written once so that every breakdown computes them the
  same way: a share of the column's total, a rank by a measure (1 = largest, ties share a
  rank), and a ratio that is null rather than an error when the denominator is 0. Both are
  fractions even of whole numbers (cents, counts): SQLite divides integers as integers.
-#}

{% macro share_of_total(measure) -%}
{{ measure }} * 1.0 / nullif(sum({{ measure }}) over (), 0)
{%- endmacro %}

{% macro rank_by(measure) -%}
rank() over (order by {{ measure }} desc)
{%- endmacro %}

{% macro safe_ratio(numerator, denominator) -%}
({{ numerator }}) * 1.0 / nullif({{ denominator }}, 0)
{%- endmacro %}
