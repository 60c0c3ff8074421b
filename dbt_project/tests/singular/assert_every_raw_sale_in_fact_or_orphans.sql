-- Nothing is lost between layers: every raw sale up to the build horizon is in exactly one of
-- fct_sales and fct_sales_orphans, and neither holds a sale that is not in raw_sales. Returns
-- the sales placed 0 or 2 times. How it is best counted depends on the engine
-- (macros/placements.sql): key lookups on SQLite, one aggregation elsewhere.
-- A scoped run (macros/test_scope.sql) checks the sales added, changed or written since the last
-- build that passed, each against the whole of the other tables.
{{ sales_not_placed_once(
    ref('int_sales_loaded'), ref('fct_sales'), ref('fct_sales_orphans'), ref('stg_sales_events')
) }}
