{#-
  The build horizon: the newest loader run committed when a `dbt run` or `dbt build` started.
  Models read sales through int_sales_loaded, which stops at the horizon, so every model of
  one build sees the same sales even when the loader commits in the middle of it (a sale, then
  its store, then another sale): the next build takes the rest. `dbt test` keeps the horizon of
  the last build, so it checks what was built, not what was loaded since.
-#}

{% macro build_horizon_relation() -%}
{{ adapter.quote(target.schema) }}.{{ adapter.quote('dbt_build_horizon') }}
{%- endmacro %}

{% macro create_build_horizon() -%}
{{ return(adapter.dispatch('create_build_horizon', 'ventes_pme')()) }}
{%- endmacro %}
{% macro default__create_build_horizon() -%}
create table if not exists {{ build_horizon_relation() }} (
      singleton integer primary key check (singleton = 1),
      loader_run_id integer not null,
      set_at text not null
  )
{%- endmacro %}

{#- run/build: move the horizon to the newest committed run; other commands: keep it -#}
{% macro advance_build_horizon() -%}
{{ return(adapter.dispatch('advance_build_horizon', 'ventes_pme')()) }}
{%- endmacro %}
{% macro default__advance_build_horizon() -%}
{%- if flags.WHICH in ('run', 'build') -%}
  insert into {{ build_horizon_relation() }} (singleton, loader_run_id, set_at)
  values (1, (select coalesce(max(run_id), 0) from "{{ target.schema }}"."loader_runs"), '{{ run_started_at.isoformat() }}')
  on conflict (singleton) do update set loader_run_id = excluded.loader_run_id, set_at = excluded.set_at
  {%- else -%}
insert or ignore into {{ build_horizon_relation() }} (singleton, loader_run_id, set_at)
  values (1, 0, '{{ run_started_at.isoformat() }}')
{%- endif -%}
{%- endmacro %}

{#- Spark: no keys, no upsert; a one-row Parquet table rewritten whole -#}
{% macro spark__create_build_horizon() -%}
create table if not exists {{ build_horizon_relation() }} (singleton int, loader_run_id bigint, set_at string) using parquet
{%- endmacro %}
{% macro spark__advance_build_horizon() -%}
{%- if flags.WHICH in ('run', 'build') -%}
insert overwrite table {{ build_horizon_relation() }}
select 1, coalesce(max(run_id), 0), '{{ run_started_at.isoformat() }}' from {{ target.schema }}.loader_runs
{%- else -%}
insert into {{ build_horizon_relation() }}
select 1, 0, '{{ run_started_at.isoformat() }}' where not exists (select 1 from {{ build_horizon_relation() }})
{%- endif -%}
{%- endmacro %}
