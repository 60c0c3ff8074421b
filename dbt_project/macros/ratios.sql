{#-
  The ratios the analysis marts share, written once so that every breakdown computes them the
  same way: a share of the column's total, a rank by a measure (1 = largest, ties share a
  rank), and a ratio that is null rather than an error when the denominator is 0. Both are
  doubles on every engine: SQLite divides integers as integers, and Spark gives a quotient of
  decimals only 6 decimals (ratios and averages are not money: money is summed in cents).
-#}

{% macro share_of_total(measure) -%}
cast({{ measure }} as double) / nullif(sum({{ measure }}) over (), 0)
{%- endmacro %}

{% macro rank_by(measure) -%}
rank() over (order by {{ measure }} desc)
{%- endmacro %}

{% macro safe_ratio(numerator, denominator) -%}
cast({{ numerator }} as double) / nullif({{ denominator }}, 0)
{%- endmacro %}
