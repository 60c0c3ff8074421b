#!/usr/bin/env bash
# End-to-end test of the Docker services (make docker-test): build the image, load generated
# feeds from a mounted folder, dbt build, start Datasette and the docs site, check them over
# HTTP, then tear everything down, volumes included. Needs a Docker engine and `docker compose`.
set -euo pipefail
cd "$(dirname "$0")/../.."

project="ventes-pme-test-$$"
work="$(mktemp -d)"
export FEEDS_DIR="$work/feeds"
export DOCS_PORT="${DOCS_PORT:-18080}" DATASETTE_PORT="${DATASETTE_PORT:-18001}"
compose=(docker compose -p "$project")

say() { printf '\n== docker-test: %s\n' "$*"; }
cleanup() {
  status=$?
  if [ "$status" -ne 0 ]; then
    "${compose[@]}" logs --no-color --tail 80 refresh docs warehouse 2>/dev/null || true
  fi
  "${compose[@]}" down --volumes --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

fetch() {  # fetch URL [tries]: print the body once the service answers
  local url=$1 tries=${2:-60}
  for _ in $(seq "$tries"); do
    if python3 -c "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())" "$url" 2>/dev/null; then
      return 0
    fi
    sleep 2
  done
  echo "no answer from $url" >&2
  return 1
}

say "build"
"${compose[@]}" build

say "generate feeds into a mounted folder"
python3 -m loader.generate --out "$FEEDS_DIR" --rows 5000 --days 90 --orphans 2
chmod -R a+rX "$work"

say "loader"
"${compose[@]}" run --rm loader --from-dir /feeds
say "loader again: nothing new"
"${compose[@]}" run --rm loader --from-dir /feeds --json | python3 -c "
import json, sys
summary = json.load(sys.stdin)
assert summary['ok'] and all(f['status'] == 'unchanged' for f in summary['feeds']), summary
print('reload unchanged: ok')"

say "dbt build (run + test)"
"${compose[@]}" run --rm dbt build
"${compose[@]}" run --rm dbt run --select mart_revenue_total
"${compose[@]}" run --rm dbt test --select mart_revenue_total

say "the same models on DuckDB and Spark (compose profiles), over the Parquet landing in the volume"
engines=("${compose[@]}" --profile duckdb --profile spark)
"${engines[@]}" build dbt-duckdb dbt-spark
"${engines[@]}" run --rm dbt-duckdb build
"${engines[@]}" run --rm dbt-spark build
"${engines[@]}" run --rm --entrypoint python dbt-duckdb -c "
import duckdb, sqlite3
mart = 'select total_revenue, sales_count from {}mart_revenue_total'
d = duckdb.connect('/data/warehouse.duckdb', read_only=True).execute(mart.format('main.')).fetchone()
s = sqlite3.connect('/data/warehouse.db').execute(mart.format('')).fetchone()
assert (float(d[0]), d[1]) == s, (d, s)
print('DuckDB mart_revenue_total = SQLite:', s)"
"${engines[@]}" run --rm --entrypoint python dbt-spark -c "
import pyarrow.parquet as pq, sqlite3
t = pq.read_table('/data/spark/warehouse/main.db/mart_revenue_total').to_pylist()[0]
s = sqlite3.connect('/data/warehouse.db').execute('select total_revenue, sales_count from mart_revenue_total').fetchone()
assert (float(t['total_revenue']), t['sales_count']) == s, (t, s)
print('Spark mart_revenue_total = SQLite:', s)"

say "up docs warehouse"
"${compose[@]}" up -d docs warehouse

say "Datasette serves mart_revenue_total as JSON"
fetch "http://127.0.0.1:${DATASETTE_PORT}/warehouse/mart_revenue_total.json?_shape=array" | python3 -c "
import json, sys
rows = json.load(sys.stdin)
assert len(rows) == 1 and rows[0]['sales_count'] == 5000 and rows[0]['total_revenue'] > 0, rows
assert rows[0]['orphan_sales_count'] == 2, rows
print('mart_revenue_total:', rows[0]['total_revenue'], 'EUR over', rows[0]['sales_count'], 'sales')"
fetch "http://127.0.0.1:${DATASETTE_PORT}/warehouse.json?sql=select+count(*)+as+n+from+fct_sales&_shape=array" | python3 -c "
import json, sys; rows = json.load(sys.stdin); assert rows[0]['n'] == 5000, rows; print('SQL query over HTTP: ok')"
fetch "http://127.0.0.1:${DATASETTE_PORT}/warehouse/mart_sales_by_city.csv" | head -2

say "docs site serves index.html and catalog.json"
fetch "http://127.0.0.1:${DOCS_PORT}/index.html" | grep -qi "<html" && echo "index.html: ok"
catalog_time() {  # the docs catalog's generation time, once it lists the typed marts
  fetch "http://127.0.0.1:${DOCS_PORT}/catalog.json" | python3 -c "
import json, sys
catalog = json.load(sys.stdin)
nodes = catalog['nodes']
assert 'model.ventes_pme.fct_sales' in nodes and nodes['model.ventes_pme.fct_sales']['columns'], sorted(nodes)
columns = nodes['model.ventes_pme.mart_sales_period_comparison']['columns']
assert columns['current_revenue']['type'].lower() == 'real', columns['current_revenue']
print(catalog['metadata']['generated_at'])"
}
first_catalog=$(catalog_time)
echo "catalog.json: typed marts, generated at $first_catalog"

say "the live system: up -d refresh (polling the mounted folder every 2 s)"
export LOADER_FROM_DIR=/feeds REFRESH_INTERVAL=2 ALERT_AFTER=120
"${compose[@]}" up -d refresh warehouse docs

healthy() {  # healthy SERVICE: wait for its healthcheck to pass
  local id health
  id=$("${compose[@]}" ps -q "$1")
  for _ in $(seq 90); do
    health=$(docker inspect -f '{{.State.Health.Status}}' "$id")
    [ "$health" = healthy ] && break
    sleep 2
  done
  echo "$1: $health"
  [ "$health" = healthy ]
}

say "healthchecks"
for service in refresh docs warehouse; do healthy "$service"; done

say "the sheet changes: 300 new sales in the mounted folder; the refresh service picks them up"
python3 -m loader.generate --out "$FEEDS_DIR" --rows 300 --days 3 --append --seed 5
chmod -R a+rX "$work"
for _ in $(seq 60); do
  n=$(fetch "http://127.0.0.1:${DATASETTE_PORT}/warehouse/mart_revenue_total.json?_shape=array" 1 \
      | python3 -c "import json, sys; print(json.load(sys.stdin)[0]['sales_count'])")
  [ "$n" = 5300 ] && break
  sleep 2
done
echo "sales in mart_revenue_total: $n"
[ "$n" = 5300 ]

say "the dashboard shows the new total, in French"
total=$(fetch "http://127.0.0.1:${DATASETTE_PORT}/warehouse/mart_revenue_total.json?_shape=array" \
        | python3 -c "import json, sys; print(json.load(sys.stdin)[0]['total_revenue'])")
fetch "http://127.0.0.1:${DATASETTE_PORT}/tableau-de-bord" | python3 -c "
import sys
page, total = sys.stdin.read(), float(sys.argv[1])
french = f'{total:,.2f}'.replace(',', '\u202f').replace('.', ',') + '\u00a0€'
assert 'Tableau de bord des ventes' in page and french in page, (french, page[:2000])
assert 'Attention' not in page, 'stale warning on fresh data'
print('dashboard shows', french.replace('\u202f', ' ').replace('\u00a0', ' '))" "$total"
fetch "http://127.0.0.1:${DATASETTE_PORT}/" | grep -q 'href="/tableau-de-bord"' && echo "home page links the dashboard: ok"
"${compose[@]}" exec -T refresh ls /data/report/fiche_synthese.md

say "the refresh service archived what it loaded and took a checked backup, in the volume"
# (the backup runs beside the refresh loop: give it a moment)
"${compose[@]}" exec -T refresh sh -c 'test -s /data/archive/journal.jsonl && for i in $(seq 60); do
  ls /data/backups/warehouse-*.db 2>/dev/null && exit 0; sleep 0.5; done; exit 1'
"${compose[@]}" exec -T refresh python -m pipeline health

say "history copied off the host, as docs/operations.md says"
"${compose[@]}" run --rm --no-deps --entrypoint tar refresh -C /data -cf - archive backups > "$work/history.tar"
tar -tf "$work/history.tar" | grep -q 'archive/journal.jsonl' && echo "history.tar: ok"

say "the storage service serves the synthesis sheet the refresh service wrote, with its charts"
fetch "http://127.0.0.1:${DATASETTE_PORT}/fiche-de-synthese" | grep -q "Fiche synthèse des ventes" && echo "fiche: ok"
python3 -c "import sys, urllib.request; assert urllib.request.urlopen(sys.argv[1], timeout=5).read()[:4] == b'\x89PNG'" \
  "http://127.0.0.1:${DATASETTE_PORT}/fiche_synthese/ca_par_produit.png" && echo "chart: ok"

say "the docs site was generated again after the refresh service's build"
for _ in $(seq 60); do
  now=$(catalog_time)
  [ "$now" != "$first_catalog" ] && break
  sleep 2
done
echo "catalog generated at $now (first: $first_catalog)"
[ "$now" != "$first_catalog" ]

say "docker compose stop docs: exits 0 at once (SIGTERM handled)"
start=$(date +%s)
"${compose[@]}" stop -t 20 docs
code=$(docker inspect -f '{{.State.ExitCode}}' "$("${compose[@]}" ps -aq docs)")
echo "docs exit code: $code after $(( $(date +%s) - start )) s"
[ "$code" = 0 ] && [ $(( $(date +%s) - start )) -lt 8 ]

say "docker compose stop refresh: exits 0 (SIGTERM handled)"
"${compose[@]}" stop -t 20 refresh
code=$(docker inspect -f '{{.State.ExitCode}}' "$("${compose[@]}" ps -aq refresh)")
echo "refresh exit code: $code"
[ "$code" = 0 ]

say "restore in compose, as docs/operations.md says: the backup, then the loads received since"
backup=$("${compose[@]}" run --rm --no-deps --entrypoint sh refresh -c 'ls /data/backups/warehouse-*.db | tail -1' | tr -d '\r')
"${compose[@]}" run --rm --no-deps --entrypoint python refresh -m pipeline restore --from "$backup" --db /data/warehouse.db
"${compose[@]}" restart warehouse
n=$(fetch "http://127.0.0.1:${DATASETTE_PORT}/warehouse/mart_revenue_total.json?_shape=array" \
    | python3 -c "import json, sys; print(json.load(sys.stdin)[0]['sales_count'])")
echo "sales after the restore: $n"
[ "$n" = 5300 ]

say "ok"
