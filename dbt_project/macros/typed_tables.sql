{#-
  Tables with declared column types. SQLite's `create table ... as select` declares a type only
  for columns that are plain casts or column references (a sum or a case has none), so Datasette,
  the docs site and any SQL client saw untyped marts. dbt-sqlite cannot enforce model contracts;
  for a model whose contract is enforced (every table of models/marts), this override of
  dbt-sqlite's create_table_as enforces it here: the query's columns must be exactly the YAML's
  (a column missing from the YAML, or declared and not produced, fails the build with their
  names), the table is created from the YAML's names and `data_type`s, then filled by name.

  The typed `create table` runs as this macro renders, inside the model's transaction and after
  the materialization dropped the old table; the `insert` is the statement it returns, which the
  materialization runs as its main statement. Temporary tables (an incremental model's new rows)
  and models without an enforced contract keep dbt-sqlite's plain `create table ... as`.
-#}
{% macro sqlite__create_table_as(temporary, relation, sql) -%}
{%- set contract = config.get('contract') -%}
{%- if temporary or not (contract and contract.enforced) -%}
create {% if temporary -%}temporary{%- endif %} table {{ relation }}
as
{{ sql }}
{%- else -%}
{%- set declared = model['columns'].values() | list -%}
{%- if execute -%}
{%- set produced = get_columns_in_query(sql) | map('lower') | list -%}
{%- set names = declared | map(attribute='name') | map('lower') | list -%}
{%- set undeclared = produced | reject('in', names) | list -%}
{%- set missing = names | reject('in', produced) | list -%}
{%- if undeclared or missing -%}
{{ exceptions.raise_compiler_error(
    "Contract of " ~ relation ~ ": the YAML must list exactly the model's columns."
    ~ (" Not in the YAML: " ~ undeclared | join(', ') ~ "." if undeclared else "")
    ~ (" In the YAML, not produced: " ~ missing | join(', ') ~ "." if missing else "")
) }}
{%- endif -%}
{%- do run_query(typed_table_ddl(relation, declared)) -%}
{%- endif -%}
insert into {{ relation }} ({{ declared | map(attribute='name') | join(', ') }})
select {{ declared | map(attribute='name') | join(', ') }}
from (
    {{ sql }}
) as typed_source
{%- endif -%}
{%- endmacro %}

{% macro typed_table_ddl(relation, columns) -%}
{%- set definitions = [] -%}
{%- for column in columns -%}
{%- do definitions.append(column['name'] ~ ' ' ~ column['data_type']) -%}
{%- endfor -%}
create table {{ relation }} ({{ definitions | join(', ') }})
{%- endmacro %}
