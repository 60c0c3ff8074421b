"""The Parquet landing (loader/parquet.py): every committed run's rows, whole files only,
caught up after a crash, written again on demand, equal to the warehouse's tables."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
from helpers import load, query

from loader.db import connect
from loader.generate import generate
from loader.load import LoadOptions
from loader.parquet import PART, RUNS, TABLES, Landing
from pipeline.dbt_runner import ROOT


def landed(folder: Path, table: str) -> list[tuple]:
    """A landed table as DuckDB reads it (the glob of the dbt sources, macros/engines.sql)."""
    rows: list[tuple] = []
    for path in sorted((folder / table).glob("**/*.parquet")):
        data = pq.read_table(path, partitioning=None)
        rows += zip(*(data.column(c).to_pylist() for c in data.column_names), strict=True)
    return sorted(rows)


def assert_landing_equals_warehouse(db: Path, folder: Path) -> None:
    for table in (*(t.name for t in TABLES), RUNS):
        assert landed(folder, table) == sorted(query(db, f"select * from {table}")), table


def test_each_load_lands_its_rows_and_retirements_equal_to_the_tables(tmp_path: Path) -> None:
    db, feeds, folder = tmp_path / "w.db", tmp_path / "feeds", tmp_path / "parquet"
    generate(feeds, days=10, rows=500, seed=3, start=dt.date(2024, 1, 1))
    load(db, feeds, LoadOptions(parquet=folder))
    sales = (feeds / "ventes.csv").read_bytes().split(b"\r\n")
    del sales[3:8]  # five deletions inside the sheet's dates: retirements
    (feeds / "ventes.csv").write_bytes(b"\r\n".join(sales))
    generate(feeds, days=2, rows=100, append=True, seed=4, start=dt.date(2024, 1, 11))
    load(db, feeds, LoadOptions(parquet=folder))
    assert query(db, "select count(*) from raw_sales_events where event = 'retired'")[0][0] == 5
    assert_landing_equals_warehouse(db, folder)
    runs = {int(p.parent.name.split("=")[1]) for p in (folder / "raw_sales").glob(f"*/{PART}")}
    assert runs == {0, *(r for (r,) in query(db, "select run_id from loader_runs where feed = 'sales'"))}


def test_a_crash_between_commit_and_landing_is_caught_up_by_the_next_load(tmp_path: Path) -> None:
    db, feeds, folder = tmp_path / "w.db", tmp_path / "feeds", tmp_path / "parquet"
    generate(feeds, days=5, rows=200, seed=3, start=dt.date(2024, 1, 1))
    load(db, feeds, LoadOptions(parquet=folder))
    generate(feeds, days=1, rows=50, append=True, seed=9, start=dt.date(2024, 1, 6))
    load(db, feeds, LoadOptions(parquet=None))  # committed, never landed: the process died there
    assert landed(folder, "raw_sales") != sorted(query(db, "select * from raw_sales"))
    load(db, feeds, LoadOptions(parquet=folder))  # unchanged feeds: only the catch-up writes
    assert_landing_equals_warehouse(db, folder)


def test_a_killed_writer_leaves_no_file_a_reader_takes_for_parquet(tmp_path: Path) -> None:
    """A writer killed mid-file leaves its hidden temporary file: no reader's glob matches it,
    and the run is landed whole by the next load."""
    db, feeds, folder = tmp_path / "w.db", tmp_path / "feeds", tmp_path / "parquet"
    generate(feeds, days=3, rows=3000, seed=3, start=dt.date(2024, 1, 1))
    load(db, feeds, LoadOptions(parquet=None))
    script = (
        "import os, sqlite3, sys, pyarrow.parquet as pq\n"
        "real = pq.write_table\n"
        "def dying(table, where, **kw):\n"
        "    real(table.slice(0, 10), where, **kw)\n"  # a part of the file is on disk
        "    os._exit(9)\n"
        "pq.write_table = dying\n"
        "from loader.parquet import Landing\n"
        "Landing(sys.argv[2]).catch_up(sqlite3.connect(sys.argv[1]))\n"
    )
    killed = subprocess.run(
        [sys.executable, "-c", script, str(db), str(folder)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert killed.returncode == 9
    leftovers = [p for p in folder.rglob("*") if p.is_file()]
    assert leftovers and all(p.name.startswith(".") and not p.name.endswith(".parquet") for p in leftovers)
    Landing(folder).catch_up(connect(db))
    assert_landing_equals_warehouse(db, folder)


def test_export_parquet_writes_the_whole_landing_again(tmp_path: Path) -> None:
    db, feeds = tmp_path / "w.db", tmp_path / "feeds"
    generate(feeds, days=4, rows=300, seed=3, start=dt.date(2024, 1, 1))
    load(db, feeds, LoadOptions(parquet=None))  # a warehouse from before the landing
    stale = tmp_path / "parquet" / "raw_sales" / "load_run=999" / PART
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"not parquet")
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "export-parquet", "--db", str(db)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0 and "wrote the Parquet landing" in done.stdout, done.stderr
    assert not stale.exists()
    assert_landing_equals_warehouse(db, tmp_path / "parquet")
    missing = subprocess.run(
        [sys.executable, "-m", "pipeline", "export-parquet", "--db", str(tmp_path / "none.db")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert (
        missing.returncode == 1
        and "run the loader first" in missing.stderr
        and "Traceback" not in missing.stderr
    )


def test_an_unchanged_poll_rewrites_nothing(tmp_path: Path) -> None:
    """The refresh service polls every minute: a load that stores nothing lands nothing, not even
    the list of runs, which grows with every poll."""
    db, feeds, folder = tmp_path / "w.db", tmp_path / "feeds", tmp_path / "parquet"
    generate(feeds, days=3, rows=100, seed=3, start=dt.date(2024, 1, 1))
    load(db, feeds, LoadOptions(parquet=folder))
    files = {p: p.stat().st_mtime_ns for p in folder.rglob("*.parquet")}
    load(db, feeds, LoadOptions(parquet=folder))  # unchanged: three 'unchanged' runs recorded
    assert query(db, "select count(*) from loader_runs where status = 'unchanged'") == [(3,)]
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*.parquet")} == files
