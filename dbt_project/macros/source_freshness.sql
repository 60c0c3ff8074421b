{#-
  dbt source freshness on every engine. The loader's timestamps are ISO 8601 text (SQLite has no
  timestamp type, and the Parquet landing keeps them as the loader wrote them), and dbt-core
  refuses text ("Expected a timestamp value ... received value of type 'str'"). These overrides
  of collect_freshness run the same query, parse max(loaded_at) into a datetime, and take "now"
  in UTC like the loader's timestamps: one macro, the same on SQLite, DuckDB and Spark.
-#}
{% macro sqlite__collect_freshness(source, loaded_at_field, filter) %}
{{ return(text_timestamps_freshness(source, loaded_at_field, filter)) }}
{% endmacro %}
{% macro duckdb__collect_freshness(source, loaded_at_field, filter) %}
{{ return(text_timestamps_freshness(source, loaded_at_field, filter)) }}
{% endmacro %}
{% macro spark__collect_freshness(source, loaded_at_field, filter) %}
{{ return(text_timestamps_freshness(source, loaded_at_field, filter)) }}
{% endmacro %}

{% macro text_timestamps_freshness(source, loaded_at_field, filter) %}
{% call statement('collect_freshness', fetch_result=True, auto_begin=False) -%}
    select
      max({{ loaded_at_field }}) as max_loaded_at
    from {{ source }}
{% if filter %}
    where {{ filter }}
{% endif %}
{%- endcall %}
{% set result = load_result('collect_freshness') %}
{% set value = result.table.rows[0][0] %}
{% set datetime = modules.datetime %}
{% set loaded = datetime.datetime.fromisoformat(value) if value is string else value %}
{% set now = datetime.datetime.now(modules.pytz.utc) %}
{% do result.update({'table': [[loaded, now]]}) %}
{{ return(result) }}
{% endmacro %}
