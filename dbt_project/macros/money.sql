{#-
  Money is counted in whole cents (integers) from the loader to the marts: integer sums are
  exact at any size, where a float sum of 10M revenues drifts by cents. `revenue_cents` and
  `unit_price_cents` carry it; this macro is the one place an amount in cents becomes euros,
  at the last step of a model:
  - SQLite has no decimal type: euros are the double nearest the exact amount, which every
    client shows as the amount itself (526878 cents -> 5268.78, never 5268.779999999999);
  - engines with decimals (DuckDB, Spark) get an exact decimal(18, 2).
-#}

{% macro cents_to_euros(cents) -%}
{{ return(adapter.dispatch('cents_to_euros', 'ventes_pme')(cents)) }}
{%- endmacro %}
{% macro default__cents_to_euros(cents) %}cast(cast({{ cents }} as decimal(18, 0)) * 0.01 as decimal(18, 2)){% endmacro %}
{% macro sqlite__cents_to_euros(cents) %}(({{ cents }}) / 100.0){% endmacro %}
