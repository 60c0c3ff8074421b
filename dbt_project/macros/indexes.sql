{#-
  Indexes as post-hooks: SQLite tables made by dbt have no keys, so every model key gets a
  unique index (one row per key, and the incremental delete+insert stays proportional to the
  new data), and incremental filters get a plain one.
-#}

{#- an index for incremental filters and lookups (sale_date ranges, rows written by a run) -#}
{% macro plain_index(column) -%}
create index if not exists "{{ this.schema }}"."{{ this.identifier }}__{{ column }}"
  on "{{ this.identifier }}" ({{ column }})
{%- endmacro %}

{#- one row per model key: SQLite tables made by dbt have no keys otherwise -#}
{% macro unique_index(columns) -%}
{%- set cols = [columns] if columns is string else columns -%}
create unique index if not exists "{{ this.schema }}"."{{ this.identifier }}__unique_{{ cols | join('_') }}"
  on "{{ this.identifier }}" ({{ cols | join(', ') }})
{%- endmacro %}
