{#-
  Date expressions that differ between SQLite and a warehouse adapter. Models call these
  macros (or dbt's own cross-database macros: dbt.dateadd, dbt.datediff, dbt.concat), never
  SQLite functions directly, so they can move to another adapter by adding its
  default__/<adapter>__ variant here.
-#}

{% macro as_date(expr) -%}
{{ return(adapter.dispatch('as_date', 'ventes_pme')(expr)) }}
{%- endmacro %}
{% macro default__as_date(expr) %}cast({{ expr }} as date){% endmacro %}
{# SQLite has no date type: cast(... as date) would yield the number 2023; dates are ISO text #}
{% macro sqlite__as_date(expr) %}date({{ expr }}){% endmacro %}

{% macro iso_day_of_week(expr) -%}
{{ return(adapter.dispatch('iso_day_of_week', 'ventes_pme')(expr)) }}
{%- endmacro %}
{% macro default__iso_day_of_week(expr) %}extract(isodow from {{ expr }}){% endmacro %}
{% macro spark__iso_day_of_week(expr) %}extract(dayofweek_iso from {{ expr }}){% endmacro %}
{% macro sqlite__iso_day_of_week(expr) %}((cast(strftime('%w', {{ expr }}) as integer) + 6) % 7 + 1){% endmacro %}

{#- the Thursday of a date's ISO week decides its ISO week number and ISO year -#}
{% macro iso_week(expr) -%}
{{ return(adapter.dispatch('iso_week', 'ventes_pme')(expr)) }}
{%- endmacro %}
{% macro default__iso_week(expr) %}extract(week from {{ expr }}){% endmacro %}
{% macro sqlite__iso_week(expr) %}((cast(strftime('%j', date({{ expr }}, '-3 days', 'weekday 4')) as integer) - 1) / 7 + 1){% endmacro %}

{% macro iso_year(expr) -%}
{{ return(adapter.dispatch('iso_year', 'ventes_pme')(expr)) }}
{%- endmacro %}
{% macro default__iso_year(expr) %}extract(isoyear from {{ expr }}){% endmacro %}
{% macro spark__iso_year(expr) %}extract(yearofweek from {{ expr }}){% endmacro %}
{% macro sqlite__iso_year(expr) %}cast(strftime('%Y', date({{ expr }}, '-3 days', 'weekday 4')) as integer){% endmacro %}

{% macro date_part_number(part, expr) -%}
{{ return(adapter.dispatch('date_part_number', 'ventes_pme')(part, expr)) }}
{%- endmacro %}
{% macro default__date_part_number(part, expr) %}extract({{ part }} from {{ expr }}){% endmacro %}
{% macro sqlite__date_part_number(part, expr) -%}
{%- if part == 'quarter' -%}
    ((cast(strftime('%m', {{ expr }}) as integer) - 1) / 3 + 1)
  {%- else -%}
cast(strftime('{{ {"year": "%Y", "month": "%m", "day": "%d"}[part] }}', {{ expr }}) as integer)
{%- endif -%}
{%- endmacro %}

{% macro add_days(expr, days) -%}
{{ return(adapter.dispatch('add_days', 'ventes_pme')(expr, days)) }}
{%- endmacro %}
{#- a date, not the timestamp dateadd gives on DuckDB -#}
{% macro default__add_days(expr, days) %}cast({{ dbt.dateadd('day', days, expr) }} as date){% endmacro %}
{% macro spark__add_days(expr, days) %}date_add({{ expr }}, {{ days }}){% endmacro %}
{# dbt-sqlite's dateadd compares an unquoted datepart to strings: call date() directly #}
{#- printf's %+d: '+3 days' and '-3 days' alike ('+' || -3 would give '+-3 days', which is null) -#}
{% macro sqlite__add_days(expr, days) %}date({{ expr }}, printf('%+d days', {{ days }})){% endmacro %}

{% macro days_between(start_expr, end_expr) -%}
{{ return(adapter.dispatch('days_between', 'ventes_pme')(start_expr, end_expr)) }}
{%- endmacro %}
{% macro default__days_between(start_expr, end_expr) %}{{ dbt.datediff(start_expr, end_expr, 'day') }}{% endmacro %}
{% macro sqlite__days_between(start_expr, end_expr) %}cast(julianday({{ end_expr }}) - julianday({{ start_expr }}) as integer){% endmacro %}

{#- every day from bounds.first_day to bounds.last_day, as the rows of the CTE `cte` (date_day) -#}
{% macro every_day(cte, bounds) -%}
{{ return(adapter.dispatch('every_day', 'ventes_pme')(cte, bounds)) }}
{%- endmacro %}
{#- a recursive CTE (the model says `with recursive`), one day per step -#}
{% macro default__every_day(cte, bounds) -%}
select {{ bounds }}.first_day as date_day from {{ bounds }}
    where {{ bounds }}.first_day is not null

    union all

    select {{ add_days(cte ~ '.date_day', 1) }} as date_day
    from {{ cte }}
    where {{ cte }}.date_day < (select {{ bounds }}.last_day from {{ bounds }})
{%- endmacro %}
{#- Spark caps recursion at 100 steps: a generated sequence instead -#}
{% macro spark__every_day(cte, bounds) -%}
select explode(sequence({{ bounds }}.first_day, {{ bounds }}.last_day, interval 1 day)) as date_day
    from {{ bounds }}
    where {{ bounds }}.first_day is not null
{%- endmacro %}
