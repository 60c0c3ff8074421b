"""Tests scoped to what a build added (macros/test_scope.sql) and fct_sales examining only new
loader runs (macros/examined_runs.sql), on real dbt builds of a loaded warehouse.

The mutations are bad rows a broken build or a broken loader could add: each is planted in the
rows a scoped run covers, and the scoped tests must catch it, by name. A bad row *outside* the
scope shows what the scope leaves to the scheduled whole-table run, which catches it too.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import (
    HISTORY_MODELS,
    ROOT,
    failures,
    load,
    model_names,
    model_rows,
    query,
    release_checkout,
    scalar,
    service_env,
    warm,
)

from loader import LoadOptions
from loader.feeds import FEEDS
from loader.generate import generate
from pipeline.dbt_runner import WarmDbt, dbt_env
from pipeline.events import EventLog
from pipeline.refresh import RefreshConfig, refresh_once

pytestmark = pytest.mark.slow

SCOPED = ("--vars", "{test_scope: changed}")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse built whole (every test passed: the scope is at its horizon), then one more
    day of sales loaded and built with scoped tests: fct_sales has old rows and new ones."""
    work = tmp_path_factory.mktemp("scope")
    feeds, db = work / "feeds", work / "warehouse.db"
    generate(feeds, days=40, rows=8_000, orphans=3, seed=5)
    load(db, feeds)
    warm(db, "build")
    generate(feeds, days=2, rows=400, append=True, orphans=2, seed=6)
    load(db, feeds)
    warm(db, "build", *SCOPED)
    return db


@pytest.fixture
def warehouse(built: Path, tmp_path: Path) -> Path:
    db = tmp_path / "warehouse.db"
    shutil.copy(built, db)
    return db


def execute(db: Path, *statements: str) -> None:
    con = sqlite3.connect(db)
    try:
        with con:
            for statement in statements:
                con.execute(statement)
    finally:
        con.close()


def failed_tests(result) -> set[str]:  # noqa: ANN001 (a dbtRunnerResult)
    return {line.split(":")[0] for line in failures(result)}


def scope(db: Path) -> tuple:
    return query(db, "select load_run_id, built_at from dbt_test_scope")[0]


# A new loader run that carries a sale with a bad quantity (the loader refuses such values:
# written by hand, as a loader bug would), then built with scoped tests.
def bad_sale(quantity: str) -> list[str]:
    return [
        """insert into loader_runs (batch_id, feed, source, started_at, finished_at, status, loaded_at)
           select batch_id, feed, source, started_at, finished_at, status, loaded_at from loader_runs
           where feed = 'sales' order by run_id desc limit 1""",
        f"""insert into raw_sales select 'planted|' || sale_id, sale_date, product_ref, {quantity}, store_id,
               raw_date, raw_product_ref, raw_quantity, raw_store_id, (select max(run_id) from loader_runs),
               line_number
           from raw_sales limit 1""",
    ]


# Bad rows written as a broken incremental build would write them: after the scoped build
# that passed, with a later built_at (so they are in the next scoped run's rows), by a build
# that lost the unique index too (the tests, not the index, must catch a repeated key).
def bad_fact(column_values: str) -> list[str]:
    return [
        'drop index "fct_sales__unique_sale_id"',
        """insert into fct_sales select * from (select * from fct_sales order by built_at limit 1)
            as old""",
        f"""update fct_sales set {column_values},
               built_at = (select max(built_at) from fct_sales) || 'z'
           where rowid = (select max(rowid) from fct_sales)""",
    ]


MUTATIONS = {
    # a loader bug: a sale with a zero quantity in a new run
    "raw sale quantity 0": (bad_sale(quantity="0"), True, {"accepted_range_stg_sales_quantity__1"}),
    # a build bug: an old sale written again (its key now twice in the fact)
    "old sale_id repeated": (
        bad_fact("quantity = quantity"),
        False,
        {"unique_fct_sales_sale_id", "assert_every_raw_sale_in_fact_or_orphans"},
    ),
    # a build bug: a fact row whose store no dimension knows
    "unknown store in the fact": (
        bad_fact("sale_id = 'planted', store_id = 'S-404'"),
        False,
        {
            "relationships_fct_sales_store_id__store_id__ref_dim_stores_",
            "assert_every_raw_sale_in_fact_or_orphans",
        },
    ),
    # a build bug: a negative price
    "negative revenue in the fact": (
        bad_fact("sale_id = 'planted2', revenue_cents = -5, revenue = -0.05"),
        False,
        {"accepted_range_fct_sales_revenue_cents__0", "assert_revenue_reconciles_across_marts"},
    ),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_a_bad_row_added_since_the_last_passing_build_fails_the_scoped_tests(
    warehouse: Path, name: str
) -> None:
    statements, rebuild, expected = MUTATIONS[name]
    before = scope(warehouse)
    execute(warehouse, *statements)
    result = warm(warehouse, "build" if rebuild else "test", *SCOPED, ok=False)
    assert not result.success
    assert expected <= failed_tests(result), failures(result)
    # a run that failed does not move the scope: the bad row stays in the next run's rows
    assert scope(warehouse) == before
    again = warm(warehouse, "test", *SCOPED, ok=False)
    assert expected <= failed_tests(again)


def test_a_scoped_run_reads_only_new_rows_and_the_whole_run_catches_an_old_bad_row(warehouse: Path) -> None:
    # an old fact row damaged in place (not written by a build since the scope): out of scope
    execute(warehouse, "update fct_sales set quantity = 0 where rowid = (select min(rowid) from fct_sales)")
    assert warm(warehouse, "test", *SCOPED, ok=False).success
    whole = warm(warehouse, "test", ok=False)
    assert "accepted_range_fct_sales_quantity__1" in failed_tests(whole)


def test_a_passing_scoped_build_moves_the_scope_to_its_horizon(warehouse: Path) -> None:
    horizon = scalar(warehouse, "select loader_run_id from dbt_build_horizon")
    assert scope(warehouse)[0] == horizon
    feeds = warehouse.parent / "feeds"
    generate(feeds, days=1, rows=100, seed=8)
    load(warehouse, feeds)
    warm(warehouse, "build", *SCOPED)
    assert scope(warehouse)[0] == scalar(warehouse, "select max(run_id) from loader_runs") > horizon
    # a selection tests part of the project: it passes without moving the scope
    generate(feeds, days=1, rows=100, append=True, seed=9)
    load(warehouse, feeds)
    moved = scope(warehouse)
    warm(warehouse, "build", "--select", "stg_sales", *SCOPED)
    assert scope(warehouse) == moved


def test_fct_sales_examines_new_runs_and_pending_sales_only(built: Path) -> None:
    """The incremental select of fct_sales reads raw_sales through its index by run and the
    pending sales, never scanning every sale; the pending set is exactly the orphans."""
    compiled = next(
        (built.parent / "dbt-warehouse" / "target" / "compiled").rglob("fct_sales.sql")
    ).read_text()
    assert "dbt_pending_sales" in compiled
    plan = "\n".join(row[3] for row in query(built, "explain query plan " + compiled))
    assert "raw_sales_by_run" in plan
    assert "SCAN raw_sales" not in plan and "SCAN source" not in plan, plan
    assert query(built, "select sale_id from dbt_pending_sales order by 1") == query(
        built, "select sale_id from fct_sales_orphans order by 1"
    )
    assert scalar(built, "select count(*) from dbt_pending_sales") > 0
    assert scalar(built, "select loader_run_id from dbt_examined_runs where model = 'fct_sales'") == scalar(
        built, "select loader_run_id from dbt_build_horizon"
    )


def test_the_refresh_tests_what_changed_and_whole_tables_on_schedule(tmp_path: Path) -> None:
    """One refresh at a time, as pipeline run and watch do them: the first build tests whole
    tables, a change is built with scoped tests, --full-tests-every 0 makes every build whole,
    and a full check falls due with nothing new; pipeline_runs says which tests each build ran."""
    feeds, db = tmp_path / "feeds", tmp_path / "warehouse.db"
    generate(feeds, days=20, rows=2_000, seed=4)
    dbt = WarmDbt(db, env=lambda warehouse: dbt_env(warehouse, tmp_path / "dbt"))
    log = EventLog("json", stream=io.StringIO())

    def refresh(full_tests_every: float = 86_400.0) -> tuple:
        config = RefreshConfig(
            db=db,
            sources={spec.name: str(feeds / spec.file_name) for spec in FEEDS},
            load=LoadOptions(),
            report_dir=None,
            full_tests_every=full_tests_every,
        )
        done = refresh_once(config, dbt, log)
        assert done.outcome in ("refreshed", "unchanged"), done.errors
        return query(db, "select dbt_result, tests from pipeline_runs order by run_id desc limit 1")[0]

    assert refresh() == ("success", "all")
    generate(feeds, days=1, rows=50, append=True, seed=5)
    assert refresh() == ("success", "changed")
    assert refresh() == ("skipped", None)  # nothing new, whole tables tested within the day
    generate(feeds, days=1, rows=50, append=True, seed=6)
    assert refresh(full_tests_every=0) == ("success", "all")
    # the daily check falls due with nothing new: a build whose tests read whole tables
    execute(db, "update pipeline_runs set finished_at = '2020-01-01T00:00:00Z' where tests = 'all'")
    assert refresh() == ("success", "all")


PREVIOUS_RELEASE = "8bee372"  # the release before tested scopes and examined runs


def test_a_warehouse_built_by_the_previous_release_is_refreshed_and_equals_a_full_refresh(
    tmp_path: Path,
) -> None:
    """Marts, pipeline_runs and fct_sales written by the previous release's own pipeline (no
    pipeline_runs.tests, no dbt_examined_runs): this release's refresh adds the column, examines
    every sale once (it cannot know what was examined), then only what is new; every model
    equals a full refresh of the same data."""
    with release_checkout(PREVIOUS_RELEASE, tmp_path / "previous-release") as old:
        feeds, db = tmp_path / "feeds", tmp_path / "warehouse.db"
        generate(feeds, days=20, rows=2_000, orphans=2, seed=12)
        done = subprocess.run(
            [sys.executable, "-m", "pipeline", "run", "--db", str(db), "--from-dir", str(feeds), "--no-report"],
            cwd=old, env={**service_env(db, None), "PYTHONPATH": str(old)}, capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "tests" not in {row[1] for row in query(db, "pragma table_info(pipeline_runs)")}
        generate(feeds, days=2, rows=200, append=True, orphans=1, seed=13)
        for _ in range(2):  # the first examines everything, the second what is new
            done = subprocess.run(
                [sys.executable, "-m", "pipeline", "run", "--db", str(db), "--from-dir", str(feeds), "--no-report"],
                cwd=ROOT, env=service_env(db, None), capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            generate(feeds, days=1, rows=100, append=True, seed=14)
        assert query(db, "select dbt_result, tests from pipeline_runs order by run_id") == [
            ("success", None),
            ("success", "all"),
            ("success", "changed"),
        ]
        assert scalar(db, "select loader_run_id from dbt_examined_runs") == scalar(
            db, "select loader_run_id from dbt_build_horizon"
        )
        full = tmp_path / "full.db"
        shutil.copy(db, full)
        warm(full, "build", "--full-refresh")
        models = [m for m in model_names(db) if m not in HISTORY_MODELS]
        assert {m: model_rows(db, m) for m in models} == {m: model_rows(full, m) for m in models}
