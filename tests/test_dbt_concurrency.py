"""dbt and the loader at the same time: a loader that commits in the middle of a build, and a
build that starts while a load holds the write lock. Both deterministic: the first runs dbt in
this process (dbt's programmatic runner) and commits the loads from dbt's own "node finished"
event, between two models of the running build; the second holds SQLite's write lock itself."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from helpers import ROOT, dbt, dbt_target, load, query, scalar
from test_dbt import HISTORY_MODELS, model_names, snapshot

from loader import LoadOptions, connect, load_feeds
from loader.generate import generate
from pipeline.dbt_runner import dbt_env

# every test here builds the dbt project: part of `make test`, left out of the quick subset
pytestmark = pytest.mark.slow


def load_one(db: Path, feed: str, path: Path) -> None:
    con = connect(db)
    try:
        [result] = load_feeds(con, {feed: str(path)}, LoadOptions())
    finally:
        con.close()
    assert result.ok, result


def build_in_process(db: Path, monkeypatch: pytest.MonkeyPatch, on_event) -> bool:
    """``dbt build`` in this process, calling ``on_event`` for each of dbt's events; success?"""
    from dbt.cli.main import dbtRunner

    for name, value in dbt_env(db, dbt_target(db).parent).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    args = ["--no-use-colors", "build", "--project-dir", str(ROOT), "--profiles-dir", str(ROOT)]
    return dbtRunner(callbacks=[on_event]).invoke(args).success


def test_a_load_committed_between_two_models_of_a_build_is_never_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds, db = tmp_path / "feeds", tmp_path / "race.db"
    generate(feeds, days=20, rows=2_000, seed=5)
    load(db, feeds)
    dbt(db, "build")

    # what the loader will commit in the middle of the next build: a sale for a store nobody
    # knows yet, then that store, then another sale for it (each its own loader run)
    sales_a, sales_b, stores_b = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "stores.csv"
    base = (feeds / "ventes.csv").read_bytes()
    sales_a.write_bytes(base + b"\r\n2023-01-20,REF001,2,77")
    sales_b.write_bytes(base + b"\r\n2023-01-20,REF001,2,77\r\n2023-01-20,REF002,5,77")
    stores_b.write_bytes((feeds / "magasins.csv").read_bytes() + b"\r\n77,Quimper,4")

    committed: list[str] = []

    def commit_loads_after_dimensions(event) -> None:
        if event.info.name != "NodeFinished" or committed:
            return
        if event.data.node_info.unique_id == "model.ventes_pme.dim_stores":
            load_one(db, "sales", sales_a)
            load_one(db, "stores", stores_b)
            load_one(db, "sales", sales_b)
            committed.append("done")

    success = build_in_process(db, monkeypatch, commit_loads_after_dimensions)
    assert committed, "the loads were never committed during the build"
    assert success, "a build must not fail because a loader committed during it"
    # that build stopped at its horizon: the three runs committed during it are for the next one
    assert scalar(db, "select count(*) from raw_sales where store_id = '77'") == 2
    assert scalar(db, "select count(*) from fct_sales where store_id = '77'") == 0

    dbt(db, "build")  # the next incremental build takes them, in the fact (the store is known now)
    assert scalar(db, "select count(*) from fct_sales where store_id = '77'") == 2
    assert scalar(db, "select count(*) from fct_sales_orphans") == 0
    assert scalar(db, "select count(*) from fct_sales") == scalar(db, "select count(*) from raw_sales")

    full = tmp_path / "full.db"
    shutil.copy(db, full)
    dbt(full, "build", "--full-refresh")
    compared = [m for m in model_names(db) if m not in HISTORY_MODELS]
    assert snapshot(db, compared) == snapshot(full, compared)


def test_a_build_waits_for_a_load_holding_the_write_lock_instead_of_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds, db = tmp_path / "feeds", tmp_path / "locked.db"
    generate(feeds, days=10, rows=500, seed=6)
    load(db, feeds)
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    held: list[float] = []

    def release_later() -> None:
        time.sleep(7)  # longer than dbt-sqlite's default 5 s busy timeout
        holder.execute("commit")
        held.append(time.monotonic() - started)

    def lock_when_the_first_model_starts(event) -> None:
        if event.info.name == "NodeStart" and not held and not threads:
            holder.execute("begin immediate")  # what a long load does: hold the write lock
            threads.append(threading.Thread(target=release_later))
            threads[0].start()

    threads: list[threading.Thread] = []
    started = time.monotonic()
    try:
        success = build_in_process(db, monkeypatch, lock_when_the_first_model_starts)
    finally:
        for thread in threads:
            thread.join()
        holder.close()
    assert threads and held, "the write lock was never taken during the build"
    assert success, "the build failed instead of waiting for the write lock"
    assert query(db, "select count(*) from fct_sales") == [(500,)]
