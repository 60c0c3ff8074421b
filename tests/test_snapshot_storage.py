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
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import ROOT, SALES_HEADER, csv_body, query, run, scalar

from loader import LoadOptions, sales_parser
from loader.forked import usable_cpus
from loader.migrations import SCHEMA_VERSION
from loader.occurrence import OccurrenceCounter
from loader.snapshots import SnapshotPolicy, decode_day
from loader.values import Limits

DAYS = ("2023-03-02", "2023-03-01", "2023-03-03")
MAPPING = {"date": 0, "product_ref": 1, "quantity": 2, "store_id": 3}  # column of each field


def interleaved(rows_per_day: int) -> list[str]:
    """Lines cycling through three days (not in date order), each line twice (i and i + 3)."""
    return [f"{DAYS[i % 3]},REF{(i // 6) % 40:03d},{1 + (i // 240)},1" for i in range(3 * rows_per_day)]


def load(path: Path, db: Path, lines: list[str], final_newline: bool = False, **options) -> dict:
    path.write_bytes(csv_body(SALES_HEADER, lines, final=final_newline))
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
            pragma user_version = 0;  -- such warehouses had no schema version
            """
        )
    step = load(path, db, lines[1:], force=True)  # the first line deleted, after the conversion
    assert (step["rows_inserted"], step["rows_retired"]) == (0, 1)
    assert not query(db, "select name from sqlite_master where name = 'sales_snapshot'")
    assert scalar(db, "pragma user_version") == SCHEMA_VERSION
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
    messages = sales_parser.parse_sales(job(path, previous={}, head=[]), OccurrenceCounter())
    segments = [payload for kind, payload in messages if kind == sales_parser.DAY]
    assert len(segments) >= 4 and all(count <= 128 for _day, (count, _digest, _ids) in segments)
    assert sum(count for _day, (count, _digest, _ids) in segments) == 300

    db = tmp_path / "w.db"
    assert load(path, db, lines)["rows_inserted"] == 300
    assert {day: len(ids) for day, ids in stored_days(db).items()} == {"2023-03-01": 300}
    step = load(path, db, lines[:150] + lines[151:])  # one line deleted: one retirement
    assert (step["rows_retired"], step["rows_inserted"]) == (1, 0)


def four_days() -> list[str]:
    """Six lines on each of four days, two pairs of them identical (occurrence numbers 1 and 2)."""
    return [f"2023-04-0{day},REF00{i % 4},{1 + day},{1 + i % 2}" for day in (1, 2, 3, 4) for i in range(6)]


def edited_on_every_way(lines: list[str]) -> list[str]:
    """Day 1 as before; day 2 the quantity of one of two identical lines corrected (same number
    of lines: the other one becomes occurrence 1, occurrence 2 is retired); day 3 one line
    more at its end; day 4 in reverse order (same sales); a new day 5; one more day-1 sale
    at the very end (the file is then not in date order)."""
    day1, day2, day3, day4 = (lines[i : i + 6] for i in range(0, 24, 6))
    day2 = [day2[0].replace(",3,", ",30,"), *day2[1:]]
    return [*day1, *day2, *day3, "2023-04-03,REF009,4,1", *day4[::-1], *(f"2023-04-05,REF00{i},1,1" for i in range(3)),
            "2023-04-01,REF009,2,1"]  # fmt: skip


def parsing(path: Path, db: Path, counter: OccurrenceCounter) -> Iterator[tuple[int, object]]:
    """The parser's messages for ``path`` against the snapshot the warehouse holds, as it yields them."""
    previous = {
        day: (sales, digest)
        for day, sales, digest in query(db, "select sale_date, sales, digest from sales_snapshot_days")
    }
    return sales_parser.parse_sales(job(path, previous=previous, head=[0]), counter)


def job(path: Path, previous: dict, head: list) -> sales_parser.ParseJob:
    return sales_parser.ParseJob(
        path=path,
        mapping=MAPPING,
        order="iso",
        previous=previous,
        head=head,
        rows_per_batch=64,
        limits=Limits(),
        encoding="utf-8-sig",
    )


def parsed(path: Path, db: Path) -> list[tuple[int, object]]:
    return list(parsing(path, db, OccurrenceCounter()))


def batched_dates(messages: list[tuple[int, object]]) -> list[str]:
    fields = sales_parser.FIELDS_PER_ROW
    return [d for kind, batch in messages if kind == sales_parser.BATCH for d in batch[2::fields]]  # type: ignore[index]


def test_a_day_listed_as_before_is_not_sent_again(tmp_path: Path) -> None:
    """The parser holds a known day's rows back and drops them when the day is listed as
    before: a reload sends only the days that changed, every day's ids still go to the snapshot."""
    db, path = tmp_path / "w.db", tmp_path / "ventes.csv"
    lines = four_days()
    load(path, db, lines)
    messages = parsed(path, db)  # the same sheet again
    assert [payload for kind, payload in messages if kind == sales_parser.UNCHANGED] == [6, 6, 6, 6]
    assert batched_dates(messages) == []
    assert sorted(payload[0] for kind, payload in messages if kind == sales_parser.DAY) == [  # type: ignore[index]
        f"2023-04-0{day}" for day in (1, 2, 3, 4)
    ]

    path.write_bytes(csv_body(SALES_HEADER, edited_on_every_way(lines)))
    messages = parsed(path, db)
    assert [payload for kind, payload in messages if kind == sales_parser.UNCHANGED] == [6]  # day 1 only
    assert sorted(set(batched_dates(messages))) == [f"2023-04-0{day}" for day in (1, 2, 3, 4, 5)]
    assert len(batched_dates(messages)) == 6 + 7 + 6 + 3 + 1  # days 2, 3, 4, 5 and the late day-1 sale


@pytest.mark.parametrize(
    "options",
    [{}, {"parallel_min_bytes": 0}, {"occurrence_max_keys": 2}],
    ids=["in-process", "forked", "read-twice"],
)
def test_a_reload_stores_exactly_what_changed_whatever_the_way_a_day_changed(
    tmp_path: Path, options: dict
) -> None:
    db, path = tmp_path / "w.db", tmp_path / "ventes.csv"
    lines = four_days()
    load(path, db, lines, **options)
    before = {r[0] for r in query(db, "select sale_id from raw_sales")}
    assert len(before) == 24

    for force in (False, True):  # the same sales in other bytes (a final newline): every day skipped, or not
        step = load(path, db, lines, final_newline=not force, force=force, **options)
        assert (step["rows_inserted"], step["rows_duplicate"], step["rows_retired"]) == (0, 24, 0)

    step = load(path, db, edited_on_every_way(lines), **options)
    assert (step["rows_inserted"], step["rows_duplicate"], step["rows_retired"]) == (6, 23, 1)
    added = {r[0] for r in query(db, "select sale_id from raw_sales")} - before
    assert sorted(added) == [
        "2023-04-01|REF009|1|2|1",
        "2023-04-02|REF000|1|30|1",
        "2023-04-03|REF009|1|4|1",
        "2023-04-05|REF000|1|1|1",
        "2023-04-05|REF001|1|1|1",
        "2023-04-05|REF002|1|1|1",
    ]
    assert query(db, "select sale_id from raw_sales_events") == [("2023-04-02|REF000|1|3|2",)]
    assert {day: len(ids) for day, ids in stored_days(db).items()} == {
        "2023-04-01": 7, "2023-04-02": 6, "2023-04-03": 7, "2023-04-04": 6, "2023-04-05": 3
    }  # fmt: skip

    # back to the first sheet (6 of 29 sales gone: over the guard's 20%, accepted on purpose)
    step = load(path, db, lines, snapshot=SnapshotPolicy(allow_retire=True), **options)
    assert (step["rows_inserted"], step["rows_retired"], step["rows_restored"]) == (0, 6, 1)
    assert {day: len(ids) for day, ids in stored_days(db).items()} == dict.fromkeys(
        [f"2023-04-0{day}" for day in (1, 2, 3, 4)], 6
    )


def test_a_day_grown_past_what_it_had_is_not_held_back_whole(tmp_path: Path) -> None:
    """A known day is held back at most as long as it has the rows it had: a day of 6 sales
    that now has 3,000 is sent in batches as it is read, not held until it ends."""
    db, path = tmp_path / "w.db", tmp_path / "ventes.csv"
    lines = four_days()
    load(path, db, lines)
    path.write_bytes(
        csv_body(SALES_HEADER, [f"2023-04-01,REF{i % 900:03d},{1 + i // 900},1" for i in range(3000)])
    )
    counter = OccurrenceCounter()
    messages = parsing(path, db, counter)
    read_at_first_batch = next(
        sum(counter.counts.values()) for kind, _ in messages if kind == sales_parser.BATCH
    )
    assert read_at_first_batch <= 64 + 7
    rest = [batch for kind, batch in messages if kind == sales_parser.BATCH]
    assert sum(len(batch) for batch in rest) == (3000 - 64) * sales_parser.FIELDS_PER_ROW + len(rest)  # type: ignore[arg-type]


def test_force_puts_back_a_row_deleted_by_hand(tmp_path: Path) -> None:
    """The unchanged-day skip trusts the snapshot as the sha256 shortcut trusts the file: a sale
    deleted from raw_sales by hand (nothing in the pipeline deletes from it) stays missing while
    its day is listed as before; --force sends every row through the key and puts it back."""
    db, path = tmp_path / "w.db", tmp_path / "ventes.csv"
    lines = four_days()
    load(path, db, lines)
    with sqlite3.connect(db) as con:
        assert con.execute("delete from raw_sales where sale_id = '2023-04-02|REF001|2|3|2'").rowcount == 1
    grown = [*lines, "2023-04-04,REF009,1,1"]  # day 4 changed, day 2 listed as before
    assert load(path, db, grown)["rows_inserted"] == 1
    assert scalar(db, "select count(*) from raw_sales") == 24  # 24 - 1 deleted + 1 new
    step = load(path, db, grown, force=True)
    assert (step["rows_inserted"], step["rows_retired"]) == (1, 0)
    assert scalar(db, "select count(*) from raw_sales where sale_id = '2023-04-02|REF001|2|3|2'") == 1
