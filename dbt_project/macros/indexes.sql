{#-
  Indexes as post-hooks: SQLite tables made by dbt have no keys, so every model key gets a
  unique index (one row per key, and the incremental delete+insert stays proportional to the
  new data), and incremental filters get a plain one. Columnar engines (DuckDB, Spark) scan
  instead: there the hooks render nothing (dbt skips an empty hook) and dbt tests keep keys unique.
-#}

{#- an index for incremental filters and lookups (sale_date ranges, rows written by a run) -#}
{% macro plain_index(column) -%}
{{ return(adapter.dispatch('plain_index', 'ventes_pme')(column)) }}
{%- endmacro %}
{% macro default__plain_index(column) %}{% endmacro %}
{% macro sqlite__plain_index(column) -%}
create index if not exists "{{ this.schema }}"."{{ this.identifier }}__{{ column }}"
  on "{{ this.identifier }}" ({{ column }})
{%- endmacro %}

{#- one row per model key: SQLite tables made by dbt have no keys otherwise -#}
{% macro unique_index(columns) -%}
{{ return(adapter.dispatch('unique_index', 'ventes_pme')(columns)) }}
{%- endmacro %}
{% macro default__unique_index(columns) %}{% endmacro %}
{% macro sqlite__unique_index(columns) -%}
{%- set cols = [columns] if columns is string else columns -%}
create unique index if not exists "{{ this.schema }}"."{{ this.identifier }}__unique_{{ cols | join('_') }}"
  on "{{ this.identifier }}" ({{ cols | join(', ') }})
{%- endmacro %}
