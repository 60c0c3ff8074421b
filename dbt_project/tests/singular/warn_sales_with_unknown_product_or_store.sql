-- A warning, not an error: sales whose product or store is missing from the feeds are kept
-- out of the fact (listed in fct_sales_orphans); this makes them visible at every build.
{{ config(severity='warn') }}

select
    orphan_reason,
    count(*) as sales,
    sum(quantity) as units
from {{ ref('fct_sales_orphans') }}
group by orphan_reason
