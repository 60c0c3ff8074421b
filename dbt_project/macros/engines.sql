{#-
  What differs between the engines the models run on, beside dates (dates.sql) and money
  (money.sql): how a build waits for the loader, where the sources are, what ends the hooks'
  transaction. SQLite reads the loader's tables in place; DuckDB and Spark read the Parquet
  landing the loader writes beside the warehouse (loader/parquet.py), as views made at the
  start of each dbt command. docs/architecture.md lists every engine-specific place.
-#}

{#- the Parquet landing: PARQUET_DIR, or parquet/ beside WAREHOUSE_DB -#}
{% macro parquet_dir() -%}
{%- set warehouse = env_var('WAREHOUSE_DB', 'data/warehouse.db') -%}
{%- set folder = warehouse.rsplit('/', 1)[0] if '/' in warehouse else '.' -%}
{{ return(env_var('PARQUET_DIR', folder ~ '/parquet')) }}
{%- endmacro %}

{% macro landed_tables() -%}
{{ return(['loader_runs', 'raw_sales', 'raw_sales_events', 'raw_products', 'raw_stores']) }}
{%- endmacro %}

{#- a build waits up to 10 minutes for a loader's write lock (SQLite's default: 5 s) -#}
{% macro wait_for_writers() -%}
{{ return(adapter.dispatch('wait_for_writers', 'ventes_pme')()) }}
{%- endmacro %}
{% macro default__wait_for_writers() %}{% endmacro %}
{% macro sqlite__wait_for_writers() %}pragma busy_timeout = 600000{% endmacro %}

{#- dbt-sqlite leaves the hooks' implicit transaction open: make the horizon visible -#}
{% macro end_hooks_transaction() -%}
{{ return(adapter.dispatch('end_hooks_transaction', 'ventes_pme')()) }}
{%- endmacro %}
{% macro default__end_hooks_transaction() %}{% endmacro %}
{% macro sqlite__end_hooks_transaction() %}commit{% endmacro %}

{#- the loader's tables as the sources' relations -#}
{% macro create_landed_sources() -%}
{{ return(adapter.dispatch('create_landed_sources', 'ventes_pme')()) }}
{%- endmacro %}
{% macro sqlite__create_landed_sources() %}{% endmacro %}
{% macro default__create_landed_sources() -%}
{%- for table in landed_tables() %}
create or replace view "{{ target.schema }}"."{{ table }}" as
select * from read_parquet('{{ parquet_dir() }}/{{ table }}/**/*.parquet', union_by_name = true, hive_partitioning = false);
{% endfor -%}
{%- endmacro %}
{#- Spark: one statement per call; a view over a folder lists its files when it is read -#}
{% macro spark__create_landed_sources() -%}
{%- do run_query("create schema if not exists " ~ target.schema) -%}
{%- for table in landed_tables() -%}
{%- do run_query("create or replace view " ~ target.schema ~ "." ~ table
    ~ " as select * from parquet.`" ~ parquet_dir() ~ "/" ~ table ~ "`") -%}
{%- endfor -%}
{%- endmacro %}

{#- an empty warehouse (no loader run yet): stop with what to do instead of "no such table" -#}
{% macro require_loaded_warehouse() -%}
{%- if execute -%}
{%- set found = adapter.dispatch('loaded_warehouse_found', 'ventes_pme')() -%}
{%- if not found -%}
{{ exceptions.raise_compiler_error(
    "The warehouse " ~ env_var('WAREHOUSE_DB', 'data/warehouse.db')
    ~ (" (its Parquet landing " ~ parquet_dir() ~ ")" if target.type != 'sqlite' else "")
    ~ " has never been loaded: run the loader first (`python -m loader`, or `make demo` for demo data;"
    ~ " set WAREHOUSE_DB to use another warehouse; `python -m pipeline export-parquet` lands an existing"
    ~ " one), then dbt again."
) }}
{%- endif -%}
{%- endif -%}
{%- endmacro %}
{% macro sqlite__loaded_warehouse_found() -%}
{%- set found = run_query(
    "select count(*) from \"" ~ target.schema ~ "\".sqlite_master where type = 'table' and name = 'loader_runs'"
) -%}
{{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}
{% macro default__loaded_warehouse_found() -%}
{%- set found = run_query("select count(*) from glob('" ~ parquet_dir() ~ "/loader_runs/*.parquet')") -%}
{{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}
{% macro spark__loaded_warehouse_found() -%}
{%- set found = run_query("select count(*) from (select 1 from parquet.`"
    ~ parquet_dir() ~ "/loader_runs` limit 1)") -%}
{{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}

{#-
  The incremental facts, on engines whose tables cannot delete rows (Spark over plain Parquet:
  no Delta or Iceberg jars here) are partitioned by day and rewritten whole days at a time
  (insert_overwrite). A day whose sales were all retired has no row to write: its partition is
  dropped by remove_retired_sales / drop_days_without.
-#}
{% macro rewrites_whole_days() -%}
{{ return(adapter.dispatch('rewrites_whole_days', 'ventes_pme')()) }}
{%- endmacro %}
{% macro default__rewrites_whole_days() %}{{ return(false) }}{% endmacro %}
{% macro spark__rewrites_whole_days() %}{{ return(true) }}{% endmacro %}

{#- the config of a fact incremental by day: merged into the model's config() -#}
{% macro by_day_incremental_config() -%}
{{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': ['sale_date'], 'file_format': 'parquet'}
          if rewrites_whole_days() else {}) }}
{%- endmacro %}

{#- fct_sales' post-hook: the sales the sheet retired leave the fact -#}
{% macro remove_retired_sales(retired) -%}
{{ return(adapter.dispatch('remove_retired_sales', 'ventes_pme')(retired)) }}
{%- endmacro %}
{% macro default__remove_retired_sales(retired) -%}
delete from {{ this }} where sale_id in (select sale_id from {{ retired }})
{%- endmacro %}
{#- the days rewritten by this build hold no retired sale; a day that still does had nothing left -#}
{% macro spark__remove_retired_sales(retired) -%}
{{ drop_day_partitions(
    "select distinct f.sale_date from " ~ this ~ " as f inner join " ~ retired ~ " as r on f.sale_id = r.sale_id"
) }}
{%- endmacro %}

{% macro drop_day_partitions(days_query) -%}
{%- if execute -%}
{%- set days = run_query(days_query).columns[0].values() -%}
{%- for day in days -%}
{%- do run_query("alter table " ~ this ~ " drop if exists partition (sale_date = '" ~ day ~ "')") -%}
{%- endfor -%}
{%- endif -%}
{%- endmacro %}

{#- fct_sales_daily's post-hook: on the days of retired sales, the groups fct_sales no longer has -#}
{% macro remove_emptied_groups(retired, sales, facts) -%}
{{ return(adapter.dispatch('remove_emptied_groups', 'ventes_pme')(retired, sales, facts)) }}
{%- endmacro %}
{% macro default__remove_emptied_groups(retired, sales, facts) -%}
delete from {{ this }}
where sale_date in (
        select s.sale_date from {{ retired }} as r
        inner join {{ sales }} as s on r.sale_id = s.sale_id)
    and not exists (
        select 1 from {{ facts }} as f
        where f.sale_date = {{ this }}.sale_date and f.product_id = {{ this }}.product_id
            and f.store_id = {{ this }}.store_id)
{%- endmacro %}
{#- whole days are rewritten: only a day left without any sale keeps stale groups -#}
{% macro spark__remove_emptied_groups(retired, sales, facts) -%}
{{ drop_day_partitions(
    "select distinct d.sale_date from " ~ this ~ " as d where not exists (select 1 from "
    ~ facts ~ " as f where f.sale_date = d.sale_date)"
) }}
{%- endmacro %}
