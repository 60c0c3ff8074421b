{#-
  Tests scoped to what a build added. A build run with `--vars '{test_scope: changed}'` (the
  refresh service's incremental builds) tests, on the big models, only the rows added or changed
  since the last build whose tests all passed: a model opts in with
  `meta: {tests_scoped_by: <column>}`, where the column is a loader run id (`load_run_id`,
  `run_id`: rows of loader runs after that build's horizon) or `built_at` (rows written by a
  later dbt run). Every other model, `--full-refresh`, and the default `test_scope: all` (any
  `dbt build` or `dbt test` typed by hand, `make test`, the refresh service's scheduled full
  check) test whole tables.

  What a scoped test still proves, per kind (the generic tests go through get_where_subquery):
  - not_null, accepted_values, accepted_range, relationships: every row in scope (a
    relationship looks its parents up in the whole parent model);
  - unique: every row of the whole table that shares a key with a row in scope, so a new row
    that repeats an old key fails;
  - the singular tests take their scoped form from tests_scoped() (placements.sql,
    assert_revenue_reconciles_across_marts.sql).
  The scope moves only when a build or test run with no node selection passed every test
  (record_tested_scope, on-run-end): rows of a failed build stay in scope until one passes.
-#}

{% macro test_scope_relation() -%}
{{ adapter.quote(target.schema) }}.{{ adapter.quote('dbt_test_scope') }}
{%- endmacro %}

{#- true when this command tests only what changed since the last build that passed -#}
{% macro tests_scoped() -%}
{%- set scope = var('test_scope', 'all') -%}
{%- if scope not in ('all', 'changed') -%}
{{ exceptions.raise_compiler_error("test_scope must be 'all' or 'changed', not '" ~ scope ~ "'") }}
{%- endif -%}
{{ return(scope == 'changed' and not flags.FULL_REFRESH) }}
{%- endmacro %}

{#- the rows in scope: `column` after the value recorded by the last build that passed -#}
{% macro in_test_scope(column) -%}
{%- if column == 'built_at' -%}
{{ column }} > coalesce((select tested.built_at from {{ test_scope_relation() }} as tested), '')
{%- elif column.endswith('run_id') -%}
{{ column }} > coalesce((select tested.load_run_id from {{ test_scope_relation() }} as tested), -1)
{%- else -%}
{{ exceptions.raise_compiler_error(
    "tests_scoped_by must be built_at or a loader run column (load_run_id, run_id), not '" ~ column ~ "'") }}
{%- endif -%}
{%- endmacro %}

{#- the scope column a model or source of this project declared (meta.tests_scoped_by), or none -#}
{% macro tests_scoped_by(relation) -%}
{%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ relation.identifier)
    or graph.sources.get('source.' ~ project_name ~ '.warehouse.' ~ relation.identifier) -%}
{%- if not node -%}{{ return(none) }}{%- endif -%}
{{ return((node.config.get('meta') or node.get('meta') or {}).get('tests_scoped_by')) }}
{%- endmacro %}

{#-
  dbt wraps the model of every generic test in this macro: its `where` config as dbt does it,
  and in a scoped command the rows in scope of a model that opted in.
-#}
{% macro get_where_subquery(relation) -%}
{%- set conditions = [] -%}
{%- set where = config.get('where', '') -%}
{%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
{%- if execute and tests_scoped() -%}
{%- set column = tests_scoped_by(relation) -%}
{%- if column -%}
{%- set test = model.get('test_metadata') or {} -%}
{%- if test.get('name') == 'unique' -%}
{%- set key = test.kwargs.column_name -%}
{%- do conditions.append(key ~ ' in (select ' ~ key ~ ' from ' ~ relation ~ ' where ' ~ in_test_scope(column) ~ ')') -%}
{%- else -%}
{%- do conditions.append(in_test_scope(column)) -%}
{%- endif -%}
{%- endif -%}
{%- endif -%}
{%- if conditions -%}
{%- set filtered -%}
(select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
{%- endset -%}
{%- do return(filtered) -%}
{%- endif -%}
{%- do return(relation) -%}
{%- endmacro %}

{% macro create_test_scope() -%}
{{ return(adapter.dispatch('create_test_scope', 'ventes_pme')()) }}
{%- endmacro %}
{% macro default__create_test_scope() -%}
create table if not exists {{ test_scope_relation() }} (
      singleton integer primary key check (singleton = 1),
      load_run_id integer not null,
      built_at text not null,
      tested_at text not null
  )
{%- endmacro %}
{% macro spark__create_test_scope() -%}
create table if not exists {{ test_scope_relation() }} (singleton int, load_run_id bigint, built_at string, tested_at string) using parquet
{%- endmacro %}

{#-
  on-run-end: a build or test of the whole project whose every model and test passed (warnings
  allowed) moves the scope to the build horizon: every row up to it has been tested. The hooks
  (dbt_project.yml) call record_tested_scope() and commit only when this is true.
-#}
{% macro whole_run_passed(results) -%}
{%- if not execute or flags.WHICH not in ('build', 'test') -%}{{ return(false) }}{%- endif -%}
{%- set args = invocation_args_dict -%}
{%- set whole = not args.get('select') and not args.get('exclude') and not args.get('selector') -%}
{%- set failed = results | rejectattr('status', 'in', ['success', 'pass', 'warn', 'no-op', 'no op']) | list -%}
{{ return(whole and results | length > 0 and failed | length == 0) }}
{%- endmacro %}

{% macro record_tested_scope() -%}
{{ return(adapter.dispatch('record_tested_scope', 'ventes_pme')()) }}
{%- endmacro %}
{% macro default__record_tested_scope() -%}
insert into {{ test_scope_relation() }} (singleton, load_run_id, built_at, tested_at)
select 1, horizon.loader_run_id, horizon.set_at, '{{ run_started_at.isoformat() }}'
from {{ build_horizon_relation() }} as horizon
where true  -- an upsert's select needs a where clause in SQLite
on conflict (singleton) do update set
    load_run_id = excluded.load_run_id, built_at = excluded.built_at, tested_at = excluded.tested_at
{%- endmacro %}
{% macro spark__record_tested_scope() -%}
insert overwrite table {{ test_scope_relation() }}
select 1, loader_run_id, set_at, '{{ run_started_at.isoformat() }}' from {{ build_horizon_relation() }}
{%- endmacro %}
