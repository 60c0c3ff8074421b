# ventes-pme: every entry point a person or CI uses. The venv is created on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := data/demo
DEMO_DB := $(DEMO)/warehouse.db
DEMO_ROWS ?= 100000

DBT    := $(BIN)/dbt --no-use-colors
# dbt resolves a relative warehouse path from the working directory: hand it an absolute one
export WAREHOUSE_DB ?= $(CURDIR)/data/warehouse.db
export DBT_SQLITE_SCHEMA_DIR ?= $(CURDIR)/data/dbt_schemas
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: help venv test lint demo run watch serve build bench docker-test docs diagrams screenshots clean engines engines-test

help: ## this list (every target with a description after two hashes)
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/make \1\t- \2/' | expand -t 20

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed ## create .venv and install the runtime and development requirements

lint: venv ## ruff (lint + format check) and SQLFluff on the dbt project
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project/models dbt_project/macros dbt_project/tests

# pytest-xdist: one worker per core (each parses the dbt project once and keeps it warm)
test: lint ## lint + every test (pytest, a worker per core); .venv/bin/pytest -m 'not slow' runs the quick ones
	$(BIN)/python -m pytest -n auto

demo: venv ## whole pipeline offline on generated data (data/demo/), then the headline results
	$(BIN)/python -m loader.generate --out $(DEMO) --rows $(DEMO_ROWS) --days 365 --duplicates 25 --malformed 8 --orphans 4
	$(BIN)/python -m pipeline run --db $(CURDIR)/$(DEMO_DB) --from-dir $(DEMO) --report-dir $(DEMO)/report
	$(BIN)/python -m report.headline --db $(DEMO_DB)
	@echo "the dashboard: make serve WAREHOUSE_DB=$(DEMO_DB)"

run: venv ## one refresh of data/warehouse.db from the client's live Google Sheets (load, dbt build, sheet)
	$(BIN)/python -m pipeline run --db $(WAREHOUSE_DB) --report-dir data/report
	$(BIN)/python -m report.headline --db $(WAREHOUSE_DB)

watch: venv ## the refresh service: a refresh every REFRESH_INTERVAL seconds (60), forever
	$(BIN)/python -m pipeline watch --db $(WAREHOUSE_DB) --report-dir data/report

serve: venv ## the storage service and its French dashboard on http://127.0.0.1:8001/tableau-de-bord
	$(BIN)/python -m pipeline serve --db $(WAREHOUSE_DB)

build: venv ## dbt build (models + tests) on WAREHOUSE_DB (default data/warehouse.db)
	$(DBT) build

# Regenerate the committed deliverables (synthesis sheet, data profile, database schema) from
# the client's feeds served over local HTTP. CLIENT_DATA: a folder with the three CSV files.
CLIENT_DATA ?= tests/fixtures/client_data
docs: venv diagrams ## regenerate docs/ deliverables from CLIENT_DATA (default: the committed client snapshot)
	$(BIN)/python -m docgen.publish --client-data $(CLIENT_DATA)

# The architecture image (Graphviz: apt-get install graphviz); docs/database.svg comes with make docs.
# Without Graphviz the committed image is kept, with a note instead of a failure.
diagrams: ## docs/architecture.svg from docs/architecture.dot (Graphviz)
	@if command -v dot >/dev/null; then dot -Tsvg docs/architecture.dot -o docs/architecture.svg; \
	else echo "note: Graphviz 'dot' not found (apt-get install graphviz): docs/architecture.svg left as committed"; fi

# The dashboard and the served synthesis sheet, screenshotted in headless Chromium into docs/
screenshots: venv ## screenshots of the dashboard and the served synthesis sheet into docs/ (Chromium)
	SCREENSHOT_DIR=$(CURDIR)/docs REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q tests/test_dashboard.py -k real_browser

# The same dbt models on DuckDB and Spark (docs/scaling.md): their adapters in the venv, and
# Debian's headless Java 17 for Spark when no `java` is on the PATH (as root, or with sudo).
engines: venv ## install the DuckDB and Spark engines (dbt build --target duckdb|spark)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-duckdb.txt -r requirements-spark.txt
	@command -v java >/dev/null || { as_root=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  DEBIAN_FRONTEND=noninteractive $$as_root apt-get install -y -q openjdk-17-jre-headless >/dev/null \
	  || { $$as_root apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
	       $$as_root apt-get install -y -q openjdk-17-jre-headless >/dev/null; }; }

# REQUIRE_ENGINES (CI: duckdb,spark) makes a missing engine a failure instead of a skip
engines-test: engines ## the models on DuckDB and Spark: every mart equal to SQLite's, full and incremental
	REQUIRE_ENGINES=$${REQUIRE_ENGINES-duckdb,spark} $(BIN)/python -m pytest -m engines -q tests/test_engines.py

docker-test: ## build the images and test every Docker service end to end
	bash tests/docker/run.sh

bench: venv ## benchmarks, written to docs/benchmarks.md
	$(BIN)/python -m bench.loader_speed
	$(BIN)/python -m bench.dbt_incremental
	$(BIN)/python -m bench.refresh
	$(BIN)/python -m bench.refresh --rows 10000000
	$(BIN)/python -m bench.refresh --rows 10000000 --sheet-days 30
	$(BIN)/python -m bench.sqlite_floor
	$(BIN)/python -m bench.history
	$(MAKE) engines
	$(BIN)/python -m bench.engines

clean: ## remove the venv, data/ and dbt's files
	rm -rf $(VENV) .pytest_cache .ruff_cache target logs
	find data -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
