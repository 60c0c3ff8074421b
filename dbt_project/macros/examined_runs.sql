{#-
  fct_sales examines only what is new: the sales of the loader runs it has not examined yet,
  the sales the sheet retired or restored in those runs, and the sales it examined before but
  could not place (unknown product or store: the pending set). Two small tables, written by
  its hooks in the transaction that writes its rows:

  - dbt_examined_runs (model, loader_run_id): the build horizon it last examined up to. Loader
    runs commit in run_id order (each one allocates its id inside its write transaction), so
    every run up to a horizon was committed when the build read it: nothing is skipped.
  - dbt_pending_sales (sale_id): every live sale up to that horizon that fct_sales does not
    hold. fct_sales_orphans is these sales with their reason.

  A build from scratch (first build, --full-refresh, a dropped table) empties both first and
  examines every sale. Spark rewrites whole days instead (engines.sql) and keeps neither.
-#}

{% macro tracks_examined_runs() -%}
{{ return(not rewrites_whole_days()) }}
{%- endmacro %}

{% macro examined_runs_relation() -%}
{{ adapter.quote(target.schema) }}.{{ adapter.quote('dbt_examined_runs') }}
{%- endmacro %}

{% macro pending_sales_relation() -%}
{{ adapter.quote(target.schema) }}.{{ adapter.quote('dbt_pending_sales') }}
{%- endmacro %}

{#- on-run-start: the two tables, when this engine keeps them (one statement per hook) -#}
{% macro create_examined_runs() -%}
{%- if tracks_examined_runs() -%}
create table if not exists {{ examined_runs_relation() }} (
      model text primary key,
      loader_run_id integer not null
  )
{%- endif -%}
{%- endmacro %}
{% macro create_pending_sales() -%}
{%- if tracks_examined_runs() -%}
create table if not exists {{ pending_sales_relation() }} (sale_id text primary key)
{%- endif -%}
{%- endmacro %}

{#- the newest loader run this model examined (-1: none) -#}
{% macro examined_through(model_name) -%}
coalesce((select examined.loader_run_id from {{ examined_runs_relation() }} as examined
    where examined.model = '{{ model_name }}'), -1)
{%- endmacro %}

{#- the ids of the sales fct_sales examines in this build -#}
{% macro sales_to_examine(sales, events) -%}
select sale_id from {{ sales }} where load_run_id > {{ examined_through('fct_sales') }}
union
select sale_id from {{ events }} where load_run_id > {{ examined_through('fct_sales') }}
union
select sale_id from {{ pending_sales_relation() }}
{%- endmacro %}

{#-
  fct_sales' hooks, one statement each. Before the rows are written, a build from scratch
  forgets what was examined; after, the examined sales not placed join the pending set, the
  pending sales placed now or no longer live leave it, and the horizon is recorded.
-#}
{% macro forget_pending_sales() -%}
{%- if tracks_examined_runs() and not is_incremental() -%}
delete from {{ pending_sales_relation() }}
{%- endif -%}
{%- endmacro %}

{% macro forget_examined_runs() -%}
{%- if tracks_examined_runs() and not is_incremental() -%}
delete from {{ examined_runs_relation() }} where model = '{{ this.identifier }}'
{%- endif -%}
{%- endmacro %}

{% macro add_pending_sales(sales, events) -%}
{%- if tracks_examined_runs() -%}
insert or ignore into {{ pending_sales_relation() }} (sale_id)
select examined.sale_id from ({{ sales_to_examine(sales, events) }}) as examined
where
    not exists (select 1 from {{ this }} as f where f.sale_id = examined.sale_id)
    and exists (select 1 from {{ sales }} as s where s.sale_id = examined.sale_id)
{%- endif -%}
{%- endmacro %}

{% macro prune_pending_sales(sales) -%}
{%- if tracks_examined_runs() -%}
delete from {{ pending_sales_relation() }}
where
    exists (select 1 from {{ this }} as f where f.sale_id = {{ pending_sales_relation() }}.sale_id)
    or not exists (select 1 from {{ sales }} as s where s.sale_id = {{ pending_sales_relation() }}.sale_id)
{%- endif -%}
{%- endmacro %}

{% macro record_examined_runs() -%}
{%- if tracks_examined_runs() -%}
insert into {{ examined_runs_relation() }} (model, loader_run_id)
select '{{ this.identifier }}', horizon.loader_run_id from {{ build_horizon_relation() }} as horizon
where true  -- an upsert's select needs a where clause in SQLite
on conflict (model) do update set loader_run_id = excluded.loader_run_id
{%- endif -%}
{%- endmacro %}
