{#-
  The build horizon: the newest loader run committed when a `dbt run` or `dbt build` started.
  Models read sales through int_sales_loaded, which stops at the horizon, so every model of
  one build sees the same sales even when the loader commits in the middle of it (a sale, then
  its store, then another sale): the next build takes the rest. `dbt test` keeps the horizon of
  the last build, so it checks what was built, not what was loaded since.
-#}

{% macro build_horizon_relation() -%}
"{{ target.schema }}"."dbt_build_horizon"
{%- endmacro %}

{% macro create_build_horizon() -%}
create table if not exists {{ build_horizon_relation() }} (
      singleton integer primary key check (singleton = 1),
      loader_run_id integer not null,
      set_at text not null
  )
{%- endmacro %}

{#- run/build: move the horizon to the newest committed run; other commands: keep it -#}
{% macro advance_build_horizon() -%}
{%- if flags.WHICH in ('run', 'build') -%}
  insert into {{ build_horizon_relation() }} (singleton, loader_run_id, set_at)
  values (1, (select coalesce(max(run_id), 0) from "{{ target.schema }}"."loader_runs"), '{{ run_started_at.isoformat() }}')
  on conflict (singleton) do update set loader_run_id = excluded.loader_run_id, set_at = excluded.set_at
  {%- else -%}
insert or ignore into {{ build_horizon_relation() }} (singleton, loader_run_id, set_at)
  values (1, 0, '{{ run_started_at.isoformat() }}')
{%- endif -%}
{%- endmacro %}

{#- an empty warehouse (no loader run yet): stop with what to do instead of "no such table" -#}
{% macro require_loaded_warehouse() -%}
{%- if execute -%}
{%- set found = run_query(
    "select count(*) from \"" ~ target.schema ~ "\".sqlite_master where type = 'table' and name = 'loader_runs'"
) -%}
{%- if found.columns[0].values()[0] == 0 -%}
{{ exceptions.raise_compiler_error(
    "The warehouse " ~ env_var('WAREHOUSE_DB', 'data/warehouse.db')
    ~ " has never been loaded: run the loader first (`python -m loader`, or `make demo` for demo data;"
    ~ " set WAREHOUSE_DB to use another warehouse), then dbt again."
) }}
{%- endif -%}
{%- endif -%}
select 1
{%- endmacro %}
