{#-
  Per-model watermarks: the newest loader run an incremental model has examined, for models
  whose own rows cannot tell (fct_sales_orphans may well be empty). A pre-hook records the
  newest run now visible as "pending"; the model reads the runs after "examined_through" up
  to "pending"; a post-hook moves "examined_through" to "pending". The hooks run inside the
  model's transaction, so a failed build leaves the watermark where it was.
-#}

{% macro watermarks_relation() -%}
  "{{ target.schema }}"."dbt_watermarks"
{%- endmacro %}

{% macro create_watermarks_table() -%}
  create table if not exists {{ watermarks_relation() }} (
      model text primary key,
      examined_through integer not null default 0,
      pending integer not null default 0
  )
{%- endmacro %}

{% macro begin_watermark() -%}
  insert into {{ watermarks_relation() }} (model, pending)
  values ('{{ this.identifier }}', (select coalesce(max(run_id), 0) from {{ source('warehouse', 'loader_runs') }}))
  on conflict (model) do update set pending = excluded.pending
{%- endmacro %}

{% macro commit_watermark() -%}
  update {{ watermarks_relation() }} set examined_through = pending where model = '{{ this.identifier }}'
{%- endmacro %}

{#- (low, high]: the runs this build examines; low is 0 on a full refresh -#}
{% macro watermark_low() -%}
  {%- if is_incremental() -%}
  (select examined_through from {{ watermarks_relation() }} where model = '{{ this.identifier }}')
  {%- else -%}
  0
  {%- endif -%}
{%- endmacro %}

{% macro watermark_high() -%}
  (select pending from {{ watermarks_relation() }} where model = '{{ this.identifier }}')
{%- endmacro %}
