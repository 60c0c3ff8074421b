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

.PHONY: help venv test lint demo run watch serve build bench docker-test docs diagrams clean

help:
	@echo "make demo   - whole pipeline offline on generated data (data/demo/)"
	@echo "make test   - lint + every test (pytest)"
	@echo "make run    - one refresh of data/warehouse.db from the client's live Google Sheets (load, dbt build, sheet)"
	@echo "make watch  - the refresh service: a refresh every REFRESH_INTERVAL seconds (60), forever"
	@echo "make serve  - the storage service and its French dashboard on http://127.0.0.1:8001/tableau-de-bord"
	@echo "make build  - dbt build (models + tests) on \$$WAREHOUSE_DB (default data/warehouse.db)"
	@echo "make bench  - benchmarks, written to docs/benchmarks.md"
	@echo "make docker-test - build the images and test every Docker service end to end"
	@echo "make docs   - regenerate docs/ deliverables from CLIENT_DATA (default: the committed client snapshot)"

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project/models dbt_project/macros dbt_project/tests

test: lint
	$(BIN)/python -m pytest

demo: venv
	$(BIN)/python -m loader.generate --out $(DEMO) --rows $(DEMO_ROWS) --days 365 --duplicates 25 --malformed 8 --orphans 4
	$(BIN)/python -m pipeline run --db $(CURDIR)/$(DEMO_DB) --from-dir $(DEMO) --report-dir $(DEMO)/report
	$(BIN)/python -m report.headline --db $(DEMO_DB)
	@echo "the dashboard: make serve WAREHOUSE_DB=$(DEMO_DB)"

run: venv
	$(BIN)/python -m pipeline run --db $(WAREHOUSE_DB) --report-dir data/report
	$(BIN)/python -m report.headline --db $(WAREHOUSE_DB)

watch: venv
	$(BIN)/python -m pipeline watch --db $(WAREHOUSE_DB) --report-dir data/report

serve: venv
	$(BIN)/python -m pipeline serve --db $(WAREHOUSE_DB)

build: venv
	$(DBT) build

# Regenerate the committed deliverables (synthesis sheet, data profile, database schema) from
# the client's feeds served over local HTTP. CLIENT_DATA: a folder with the three CSV files.
CLIENT_DATA ?= tests/fixtures/client_data
docs: venv diagrams
	$(BIN)/python -m docgen.publish --client-data $(CLIENT_DATA)

# The architecture image (Graphviz: apt-get install graphviz); docs/database.svg comes with make docs.
# Without Graphviz the committed image is kept, with a note instead of a failure.
diagrams:
	@if command -v dot >/dev/null; then dot -Tsvg docs/architecture.dot -o docs/architecture.svg; \
	else echo "note: Graphviz 'dot' not found (apt-get install graphviz): docs/architecture.svg left as committed"; fi

docker-test:
	bash tests/docker/run.sh

bench: venv
	$(BIN)/python -m bench.loader_speed
	$(BIN)/python -m bench.dbt_incremental
	$(BIN)/python -m bench.refresh
	$(BIN)/python -m bench.sqlite_floor
	$(BIN)/python -m bench.c_path

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache target logs
