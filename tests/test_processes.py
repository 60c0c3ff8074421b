"""The loader as separate processes: concurrent runs, SIGKILL mid-load, a killed parser."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from helpers import children_of, query, scalar, spawn_loader, wait_gone

from loader.generate import generate


def test_two_concurrent_loaders_neither_crash_nor_duplicate(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    generate(feeds, days=60, rows=40_000, duplicates=20)
    db = tmp_path / "w.db"
    procs = [spawn_loader("--db", str(db), "--from-dir", str(feeds), "--json") for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    summaries = [json.loads(out) for out, _err in outputs]
    inserted = [next(f for f in s["feeds"] if f["feed"] == "sales")["rows_inserted"] for s in summaries]
    assert sorted(inserted) == [0, 40_020]  # one loaded everything, the other found it all present
    assert scalar(db, "select count(*) from raw_sales") == 40_020
    assert scalar(db, "select count(*) from raw_products") == 20


@pytest.mark.slow
def test_sigkill_mid_load_leaves_the_database_as_before_and_a_rerun_loads_everything(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    generate(feeds, days=365, rows=600_000)
    db = tmp_path / "w.db"
    first = spawn_loader("--db", str(db), "--from-dir", str(feeds), "--only", "products")
    assert first.wait(timeout=60) == 0
    before = query(db, "select * from raw_products")
    proc = spawn_loader("--db", str(db), "--from-dir", str(feeds))
    wal = Path(f"{db}-wal")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not wal.exists() or wal.stat().st_size < 4_000_000):
        time.sleep(0.02)  # wait until the sales load is well under way
    assert proc.poll() is None, "the load finished before it could be killed; use a bigger feed"
    parsers = children_of(proc.pid)  # the feed is over 8 MiB: parsed in a forked process
    assert parsers, "the loader has no parser process"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    for pid in parsers:  # the orphaned parser must notice and exit, not block on a full pipe
        assert wait_gone(pid, timeout=30), f"parser process {pid} outlived the killed loader"
    assert scalar(db, "select count(*) from raw_sales") == 0
    assert query(db, "select * from raw_products") == before
    assert scalar(db, "select count(*) from loader_runs where feed = 'sales'") == 0
    rerun = spawn_loader("--db", str(db), "--from-dir", str(feeds))
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert scalar(db, "select count(*) from raw_sales") == 600_000
    assert scalar(db, "pragma integrity_check") == "ok"


def test_a_killed_parser_process_fails_the_feed_and_changes_nothing(tmp_path: Path) -> None:
    """A sales file over 8 MiB is parsed in a forked child: kill that child mid-load."""
    feeds = tmp_path / "feeds"
    generate(feeds, days=365, rows=600_000)
    assert (feeds / "ventes.csv").stat().st_size > 8 << 20
    db = tmp_path / "w.db"
    proc = spawn_loader("--db", str(db), "--only", "sales", "--from-dir", str(feeds))
    deadline = time.monotonic() + 60
    children: list[int] = []
    while time.monotonic() < deadline and not children and proc.poll() is None:
        children = children_of(proc.pid)
        time.sleep(0.01)
    assert children, "the loader never forked its parser"
    time.sleep(0.3)  # let it parse and send a few batches
    os.kill(children[0], signal.SIGKILL)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "FAILED" in err and "parser process died" in err
    assert scalar(db, "select count(*) from raw_sales") == 0
    assert scalar(db, "select status from loader_runs where feed = 'sales'") == "failed"
