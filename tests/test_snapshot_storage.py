"""How the loader stores the sheet's snapshot and where it parses: what the speed work changed.

The snapshot of a source is kept by day (loader.snapshots): a day sent in several segments
(a file not in date order) is merged, a warehouse made with the older one-row-per-id table
is converted, and the parser runs in a forked process only when two CPUs are usable.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, SALES_HEADER, csv_body, query, run, scalar

from loader import LoadOptions, sales_parser
from loader.forked import usable_cpus
from loader.occurrence import OccurrenceCounter
from loader.snapshots import decode_day
from loader.values import Limits

DAYS = ("2023-03-02", "2023-03-01", "2023-03-03")


def interleaved(rows_per_day: int) -> list[str]:
    """Lines cycling through three days (not in date order), each line twice (i and i + 3)."""
    return [f"{DAYS[i % 3]},REF{(i // 6) % 40:03d},{1 + (i // 240)},1" for i in range(3 * rows_per_day)]


def load(path: Path, db: Path, lines: list[str], **options) -> dict:
    path.write_bytes(csv_body(SALES_HEADER, lines))
    result = run(db, LoadOptions(**options), sales=str(path))["sales"]
    assert result.status == "loaded", result.error
    return vars(result)


def stored_days(db: Path) -> dict[str, set[str]]:
    return {
        day: decode_day(blob)
        for day, blob in query(db, "select sale_date, sale_ids from sales_snapshot_days")
    }


@pytest.mark.parametrize("forked", [False, True], ids=["in-process", "forked"])
def test_a_day_sent_in_several_segments_is_merged_and_diffed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    monkeypatch.setattr(sales_parser, "DAY_FLUSH_IDS", 64)  # send the days after every batch
    db, path = tmp_path / "w.db", tmp_path / "ventes.csv"
    # a tiny occurrence counter: the file is read twice (loader.occurrence), the days sent again
    options = {"parallel_min_bytes": 0 if forked else 1 << 40, "occurrence_max_keys": 2}
    lines = interleaved(200)
    first = load(path, db, lines, **options)
    assert first["rows_inserted"] == 600
    days = stored_days(db)
    assert {day: len(ids) for day, ids in days.items()} == dict.fromkeys(DAYS, 200)
    assert set().union(*days.values()) == {r[0] for r in query(db, "select sale_id from raw_sales")}
    assert query(db, "select sale_date, sales from sales_snapshot_days order by 1") == [
        (d, 200) for d in sorted(DAYS)
    ]

    # one line deleted on two of the days, the order of the others shuffled: two retirements
    edited = [line for i, line in enumerate(lines) if i not in (10, 302)]
    edited = edited[::2] + edited[1::2]
    step = load(path, db, edited, **options)
    assert (step["rows_inserted"], step["rows_retired"], step["rows_aged_out"]) == (0, 2, 0)
    assert sorted(len(ids) for ids in stored_days(db).values()) == [199, 199, 200]

    # the deleted lines come back: restored, nothing inserted twice
    step = load(path, db, lines, **options)
    assert (step["rows_inserted"], step["rows_restored"], step["rows_retired"]) == (0, 2, 0)
    assert scalar(db, "select count(*) from raw_sales") == 600


def test_a_warehouse_with_the_older_snapshot_table_is_converted(tmp_path: Path) -> None:
    db, path = tmp_path / "w.db", tmp_path / "ventes.csv"
    lines = interleaved(50)
    load(path, db, lines)
    before = stored_days(db)
    with sqlite3.connect(db) as con:  # the layout of warehouses made before sales_snapshot_days
        con.executescript(
            """
            create table sales_snapshot (source_id integer not null, sale_id text not null,
                primary key (source_id, sale_id)) without rowid;
            insert into sales_snapshot select 1, sale_id from raw_sales;
            drop table sales_snapshot_days;
            """
        )
    step = load(path, db, lines[1:], force=True)  # the first line deleted, after the conversion
    assert (step["rows_inserted"], step["rows_retired"]) == (0, 1)
    assert not query(db, "select name from sqlite_master where name = 'sales_snapshot'")
    after = stored_days(db)
    retired = scalar(db, "select sale_id from raw_sales_events where event = 'retired'")
    assert after == {day: ids - {retired} for day, ids in before.items()}


def child_peak_after_load(db: Path, path: Path, one_cpu: bool) -> tuple[str, int, int]:
    """Load in a fresh process (optionally pinned to one CPU): status, rows, children's peak RSS."""
    script = f"""
import json, os, resource
if {one_cpu}:
    os.sched_setaffinity(0, {{min(os.sched_getaffinity(0))}})
from loader.db import connect
from loader.load import LoadOptions, load_feeds
(result,) = load_feeds(connect({str(db)!r}), {{"sales": {str(path)!r}}}, LoadOptions(parallel_min_bytes=0))
print(json.dumps([result.status, result.rows_inserted, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return tuple(json.loads(out.stdout))  # type: ignore[return-value]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux-only")
def test_the_parser_is_forked_only_when_two_cpus_are_usable(tmp_path: Path) -> None:
    path = tmp_path / "ventes.csv"
    path.write_bytes(csv_body(SALES_HEADER, interleaved(100)))
    status, rows, child_peak = child_peak_after_load(tmp_path / "one.db", path, one_cpu=True)
    assert (status, rows, child_peak) == ("loaded", 300, 0)  # no child process at all
    if usable_cpus() < 2:
        pytest.skip("this machine gives one CPU: the forked half cannot be checked")
    status, rows, child_peak = child_peak_after_load(tmp_path / "two.db", path, one_cpu=False)
    assert (status, rows) == ("loaded", 300) and child_peak > 0


def test_usable_cpus_reads_a_cgroup_quota(tmp_path: Path) -> None:
    quota = tmp_path / "cpu.max"
    quota.write_text("100000 100000\n")  # docker run --cpus 1
    assert usable_cpus(quota) == 1
    quota.write_text("max 100000\n")
    assert usable_cpus(quota) == usable_cpus(tmp_path / "absent")


def test_one_day_larger_than_the_parser_holds_is_sent_in_segments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sheet of a single day must not be held whole by the parser: it goes in segments."""
    monkeypatch.setattr(sales_parser, "DAY_FLUSH_IDS", 64)
    path = tmp_path / "ventes.csv"
    lines = [f"2023-03-01,REF{i % 40:03d},{1 + i // 40},1" for i in range(300)]
    path.write_bytes(csv_body(SALES_HEADER, lines))
    mapping = {"date": 0, "product_ref": 1, "quantity": 2, "store_id": 3}
    messages = sales_parser.parse_sales(
        path, mapping, "iso", OccurrenceCounter(), [], 64, Limits(), "utf-8-sig"
    )
    segments = [payload for kind, payload in messages if kind == sales_parser.DAY]
    assert len(segments) >= 4 and all(count <= 128 for _day, (count, _digest, _ids) in segments)
    assert sum(count for _day, (count, _digest, _ids) in segments) == 300

    db = tmp_path / "w.db"
    assert load(path, db, lines)["rows_inserted"] == 300
    assert {day: len(ids) for day, ids in stored_days(db).items()} == {"2023-03-01": 300}
    step = load(path, db, lines[:150] + lines[151:])  # one line deleted: one retirement
    assert (step["rows_retired"], step["rows_inserted"]) == (1, 0)
