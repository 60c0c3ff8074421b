{#-
  dbt source freshness on SQLite. Out of the box it fails: SQLite has no timestamp type, so
  dbt-sqlite returns max(loaded_at) as text and dbt-core refuses it ("Expected a timestamp
  value ... received value of type 'str'"). This override runs the same query, with "now" in
  UTC ISO 8601 like the loader's timestamps, and parses both values into datetimes.
-#}
{% macro sqlite__collect_freshness(source, loaded_at_field, filter) %}
{% call statement('collect_freshness', fetch_result=True, auto_begin=False) -%}
    select
      max({{ loaded_at_field }}) as max_loaded_at,
      strftime('%Y-%m-%dT%H:%M:%SZ', 'now') as snapshotted_at
    from {{ source }}
{% if filter %}
    where {{ filter }}
{% endif %}
{%- endcall %}
{% set result = load_result('collect_freshness') %}
{% set parsed = [] %}
{% for value in result.table.rows[0] %}
    {% if value is string %}
      {% do parsed.append(modules.datetime.datetime.fromisoformat(value)) %}
    {% else %}
      {% do parsed.append(value) %}
    {% endif %}
  {% endfor %}
{% do result.update({'table': [parsed]}) %}
{{ return(result) }}
{% endmacro %}
