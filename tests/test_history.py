"""Nothing received is ever lost: the landing archive, backups, restore, rebuild, migrations.

Each test breaks one promise of docs/operations.md on purpose, on real files: bytes written over
the middle of a warehouse, a WAL deleted, a backup killed half-way, a warehouse written by the
previous release's own code (a git worktree at that commit).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import CLIENT_DATA, ROOT, csv_body, dbt, query, release_checkout, scalar

from loader import LoadOptions, connect, load_feeds
from loader import backup as backups
from loader.archive import Archive, Entry
from loader.feeds import PRODUCTS, SALES, STORES
from loader.generate import generate
from loader.migrations import SCHEMA_VERSION

# every test here builds the dbt project: part of `make test`, left out of the quick subset
pytestmark = pytest.mark.slow


PREVIOUS_RELEASE = "a4b5d79"  # the last release before schema versions and the archive


def cli(module: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def load_dir(db: Path, feeds: Path, archive: Path | None) -> list:
    con = connect(db)
    try:
        sources = {s.name: str(feeds / s.file_name) for s in (SALES, PRODUCTS, STORES)}
        results = load_feeds(con, sources, LoadOptions(archive=archive))
    finally:
        con.close()
    assert all(r.ok for r in results), [r.error for r in results]
    return results


def damage(db: Path) -> None:
    """16 KiB of random bytes over the middle of the file, on page boundaries."""
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.seek(size // 2 - (size // 2) % 4096)
        f.write(random.Random(7).randbytes(16384))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sales_state(db: Path) -> dict:
    """What must survive: every raw sale, every retirement/restoration, the headline mart."""
    return {
        "sales": query(
            db,
            "select sale_id, sale_date, product_ref, quantity, store_id, line_number from raw_sales order by 1",
        ),
        "events": query(db, "select sale_id, event from raw_sales_events order by 1, 2"),
        "total": query(db, "select total_revenue, total_units, sales_count from mart_revenue_total"),
    }


@pytest.fixture
def feeds(tmp_path: Path) -> Path:
    out = tmp_path / "feeds"
    generate(out, days=40, rows=3_000, duplicates=5, seed=3)
    return out


# --- damage is seen ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("loader",),
        ("pipeline", "run", "--no-report"),
        ("pipeline", "watch", "--interval", "1", "--no-report"),
    ],
    ids=["loader", "pipeline-run", "pipeline-watch"],
)
def test_a_damaged_page_is_refused_by_every_writing_command(
    feeds: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    db = tmp_path / "w.db"
    load_dir(db, feeds, None)
    damage(db)
    before = digest(db)
    module, *args = command
    done = cli(module, *args, "--db", str(db), "--from-dir", str(feeds))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "is damaged" in lines[0], done.stderr
    assert "pipeline restore" in lines[0] and "pipeline rebuild" in lines[0]
    assert "Traceback" not in done.stderr and "loaded" not in done.stdout
    assert digest(db) == before  # nothing was written into the damaged file


# --- backups -------------------------------------------------------------------------------


def test_a_backup_is_checked_renamed_into_place_and_rotated(feeds: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    load_dir(db, feeds, None)
    folder = tmp_path / "backups"
    start = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    for hour in range(0, 24 * 40, 6):  # every 6 h for 40 days
        backups.take(db, folder, now=start + dt.timedelta(hours=hour))
    removed = backups.prune(
        folder, backups.Retention(keep_last=7, keep_days=30), now=start + dt.timedelta(days=40)
    )
    kept = [backups.taken_at(p) for p in backups.backups(folder)]
    taken = [start + dt.timedelta(hours=h) for h in range(0, 24 * 40, 6)]
    # the 7 newest, plus the newest of each day of the last 30 (11 January 18:00 .. 10 February)
    assert set(taken[-7:]) <= set(kept)
    newest_of_days = {max(t for t in taken if t.date() == day) for day in {t.date() for t in taken}}
    in_window = {t for t in newest_of_days if t >= start + dt.timedelta(days=10)}
    assert set(kept) == set(taken[-7:]) | in_window and len(kept) == 35
    assert min(kept) == dt.datetime(2026, 1, 11, 18, tzinfo=dt.UTC) and len(removed) == len(taken) - len(kept)
    kept = backups.backups(folder)
    assert all(backups.integrity_problem(p) is None for p in kept)
    assert scalar(kept[-1], "select count(*) from raw_sales") == scalar(db, "select count(*) from raw_sales")


def test_a_kill_during_backup_leaves_no_partial_backup(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    feeds = tmp_path / "feeds"
    generate(feeds, days=200, rows=200_000, seed=5)
    load_dir(db, feeds, None)
    folder = tmp_path / "backups"
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "backup", "--db", str(db), "--to", str(folder)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not list(folder.glob(".*.partial")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert backups.backups(folder) == []  # a half-written copy is never taken for a backup
    done = backups.take(db, folder)
    assert backups.backups(folder) == [done] and not list(folder.glob(".*.partial"))


def test_a_backup_taken_while_a_load_and_a_build_run_is_consistent(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    feeds = tmp_path / "feeds"
    generate(feeds, days=60, rows=20_000, seed=9)
    load_dir(db, feeds, None)
    dbt(db, "build")
    generate(feeds, days=60, rows=300_000, append=True, seed=10)
    env = {**os.environ, "WAREHOUSE_DB": str(db)}
    loading = subprocess.Popen(
        [sys.executable, "-m", "loader", "--db", str(db), "--from-dir", str(feeds), "--no-archive"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    building = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pipeline.dbt_runner import run_dbt; from pathlib import Path;"
         f"sys.exit(run_dbt(Path({str(db)!r}), Path({str(tmp_path / 'dbt2')!r}), 'build').returncode)"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    taken = []
    while loading.poll() is None or building.poll() is None:
        taken.append(backups.take(db, tmp_path / "backups"))
    assert loading.wait() == 0 and building.wait() == 0
    assert len(taken) >= 2
    for copy in taken:  # each one snapshot: a run's audit row exists if and only if its rows do
        assert backups.integrity_problem(copy) is None
        inserted = scalar(
            copy, "select coalesce(sum(rows_inserted), 0) from loader_runs where feed = 'sales'"
        )
        assert scalar(copy, "select count(*) from raw_sales") == inserted


# --- the archive, restore, rebuild ---------------------------------------------------------


def test_an_unchanged_sheet_adds_nothing_and_a_lost_journal_line_is_written_again(
    feeds: Path, tmp_path: Path
) -> None:
    db, folder = tmp_path / "w.db", tmp_path / "archive"
    load_dir(db, feeds, folder)
    archive = Archive(folder)
    bodies = sorted(p.name for p in folder.rglob("*.csv.gz"))
    assert len(bodies) == 3 and [e.seq for e in archive.entries()] == [1, 2, 3]
    journal = (folder / "journal.jsonl").read_bytes()
    load_dir(db, feeds, folder)  # the same sheets: unchanged, nothing archived
    assert sorted(p.name for p in folder.rglob("*.csv.gz")) == bodies
    assert (folder / "journal.jsonl").read_bytes() == journal
    recorded = json.loads(scalar(db, "select read_options from loader_runs where archive_seq = 3"))
    assert recorded["date_format"] == "YYYY-MM-DD" and recorded["encoding"] == "utf-8-sig"
    # a crash after the commit, before the journal line: the next load writes it first
    lines = journal.decode().splitlines(keepends=True)
    (folder / "journal.jsonl").write_text("".join(lines[:-1]) + lines[-1][:20])  # cut mid-line too
    assert [e.seq for e in archive.entries()] == [1, 2]
    load_dir(db, feeds, folder)
    assert [e.seq for e in archive.entries()] == [1, 2, 3]


def test_restore_after_damage_loses_nothing_received(feeds: Path, tmp_path: Path) -> None:
    db, folder = tmp_path / "w.db", tmp_path / "archive"
    load_dir(db, feeds, folder)
    dbt(db, "build")
    backup = backups.take(db, tmp_path / "backups")
    generate(feeds, days=5, rows=500, append=True, seed=4)  # received after the backup
    load_dir(db, feeds, folder)
    dbt(db, "build")
    before = sales_state(db)
    damage(db)
    done = cli("pipeline", "restore", "--from", str(backup), "--db", str(db))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "replayed 1 loads received after the backup" in done.stdout
    assert sales_state(db) == before
    assert any(p.name.startswith("w.db.replaced-") for p in tmp_path.iterdir())  # moved aside, kept


def test_restore_is_refused_while_a_refresh_holds_the_warehouse(feeds: Path, tmp_path: Path) -> None:
    from pipeline.lock import single_instance

    db = tmp_path / "w.db"
    load_dir(db, feeds, None)
    backup = backups.take(db, tmp_path / "backups")
    before = digest(db)
    with single_instance(db):
        done = cli("pipeline", "restore", "--from", str(backup), "--db", str(db))
    assert done.returncode == 1 and "already running" in done.stderr
    assert digest(db) == before


def test_the_wal_deleted_after_pipeline_run_loses_nothing(feeds: Path, tmp_path: Path) -> None:
    """A reader stays connected (as Datasette does), so SQLite's own checkpoint on the last close
    never runs: only the refresh's checkpoint puts the refresh in the main file."""
    db = tmp_path / "w.db"
    connect(db).close()
    reader = sqlite3.connect(db)
    try:
        reader.execute("select count(*) from loader_runs").fetchone()
        done = cli("pipeline", "run", "--db", str(db), "--from-dir", str(feeds), "--no-report")
        assert done.returncode == 0, done.stderr
        before = sales_state(db)
        alone = tmp_path / "main-file-only.db"
        shutil.copyfile(db, alone)  # the main file without its WAL: as if the WAL were deleted
    finally:
        reader.close()
    assert sales_state(alone) == before and before["total"][0][2] > 0
    assert scalar(alone, "select outcome from pipeline_runs") == "refreshed"


def random_sheets(rng: random.Random) -> list[list[str]]:
    """A sales sheet as people edit it: appends, edits, deletions, a window shift, identical lines."""
    refs, stores = [f"REF{i:03d}" for i in range(1, 6)], ["1", "2", "3"]
    day = lambda n: (dt.date(2023, 5, 1) + dt.timedelta(days=n)).isoformat()  # noqa: E731
    lines = [
        f"{day(d)},{rng.choice(refs)},{rng.randint(1, 9)},{rng.choice(stores)}"
        for d in range(8)
        for _ in range(6)
    ]
    sheets, last_day = [list(lines)], 7
    for _ in range(10):
        move = rng.choice(["append", "edit", "delete", "shift", "identical"])
        if move == "append":
            last_day += 1
            lines += [
                f"{day(last_day)},{rng.choice(refs)},{rng.randint(1, 9)},{rng.choice(stores)}"
                for _ in range(5)
            ]
        elif move == "edit":
            i = rng.randrange(len(lines))
            date, ref, _q, store = lines[i].split(",")
            lines[i] = f"{date},{ref},{rng.randint(10, 20)},{store}"
        elif move == "delete":
            del lines[rng.randrange(len(lines))]
        elif move == "shift":  # a rolling window: the first day leaves the sheet
            first = min(line[:10] for line in lines)
            lines = [line for line in lines if line[:10] != first]
        else:
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i])
        sheets.append(list(lines))
    return sheets


def comparable(db: Path) -> dict[str, list]:
    """Every table a rebuild must give back, without the columns that number runs."""
    out = {}
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type = 'table' order by 1")]
        for table in tables:
            if table.startswith(
                ("sqlite_", "dbt_", "loader_", "pipeline_", "mart_results_history", "sales_snapshot")
            ):
                continue
            columns = [r[1] for r in con.execute(f'pragma table_info("{table}")')]
            kept = [
                c
                for c in columns
                if "run_id" not in c
                and c not in ("built_at", "version_id", "current_version_id", "product_version_id")
            ]
            out[table] = sorted(con.execute(f'select {", ".join(kept)} from "{table}"').fetchall(), key=repr)
        out["snapshot"] = con.execute(
            "select s.source, d.sale_date, d.sales, d.digest from sales_snapshot_days as d "
            "join snapshot_sources as s using (source_id) order by 1, 2"
        ).fetchall()
    finally:
        con.close()
    return out


@pytest.mark.slow
def test_a_random_sequence_of_sheets_rebuilt_from_the_archive_equals_the_original(tmp_path: Path) -> None:
    rng = random.Random(2026)
    db, folder = tmp_path / "w.db", tmp_path / "archive"
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    shutil.copy(CLIENT_DATA / PRODUCTS.file_name, feeds)
    shutil.copy(CLIENT_DATA / STORES.file_name, feeds)
    with open(CLIENT_DATA / PRODUCTS.file_name, encoding="utf-8-sig", newline="") as f:
        products = list(csv.reader(f))
    for n, lines in enumerate(random_sheets(rng)):
        (feeds / SALES.file_name).write_bytes(csv_body(SALES.header_line, lines))
        if n == 4:  # a price change on the way: the price in effect depends on load times
            products[1][2] = "12.50"
            (feeds / PRODUCTS.file_name).write_bytes(
                csv_body(PRODUCTS.header_line, [",".join(r) for r in products[1:]])
            )
        con = connect(db)
        try:
            sources = {s.name: str(feeds / s.file_name) for s in (SALES, PRODUCTS, STORES)}
            results = load_feeds(con, sources, LoadOptions(archive=folder, snapshot=_lenient()))
        finally:
            con.close()
        assert all(r.ok for r in results), [r.error for r in results]
    dbt(db, "build")
    assert scalar(db, "select count(*) from raw_sales_events") > 0  # the sequence did retire sales
    rebuilt = tmp_path / "rebuilt.db"
    done = cli("pipeline", "rebuild", "--archive", str(folder), "--db", str(rebuilt))
    assert done.returncode == 0, done.stdout + done.stderr
    original, copy = comparable(db), comparable(rebuilt)
    assert original.keys() == copy.keys()
    assert {t for t in original if original[t] != copy[t]} == set()
    again = cli("pipeline", "rebuild", "--archive", str(folder), "--db", str(rebuilt))
    assert again.returncode == 1 and "exists" in again.stderr  # never over an existing file


def _lenient():
    from loader.snapshots import SnapshotPolicy

    return SnapshotPolicy(allow_retire=True)  # a small sheet: one deletion can be over 20 %


# --- schema versions -------------------------------------------------------------------------


def test_a_warehouse_from_a_newer_release_is_refused(feeds: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    load_dir(db, feeds, None)
    with sqlite3.connect(db) as con:
        con.execute(f"pragma user_version = {SCHEMA_VERSION + 1}")
    done = cli("loader", "--db", str(db), "--from-dir", str(feeds))
    assert done.returncode == 1
    assert "written by a newer release" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_the_previous_releases_warehouse_is_upgraded(feeds: Path, tmp_path: Path) -> None:
    """A warehouse written by the previous release's own code, then opened by this one."""
    with release_checkout(PREVIOUS_RELEASE, tmp_path / "previous-release") as old:
        db = tmp_path / "w.db"
        env = {**os.environ, "PYTHONPATH": str(old)}
        for step in range(2):  # a load, then an appended day and an edit, with the old code
            if step:
                generate(feeds, days=2, rows=200, append=True, seed=8)
                text = (feeds / SALES.file_name).read_bytes().decode("utf-8").split("\r\n")
                date, ref, _q, store = text[3].split(",")
                text[3] = f"{date},{ref},77,{store}"
                (feeds / SALES.file_name).write_bytes("\r\n".join(text).encode("utf-8"))
            done = subprocess.run([sys.executable, "-m", "loader", "--db", str(db), "--from-dir", str(feeds)],
                                  cwd=old, env=env, capture_output=True, text=True)  # fmt: skip
            assert done.returncode == 0, done.stderr
        assert scalar(db, "pragma user_version") == 0
        before = query(db, "select sale_id, quantity from raw_sales order by 1")
        events = query(db, "select sale_id, event from raw_sales_events order by 1")
        assert events  # the edit retired the old line
        prices = query(db, "select version_id, price from raw_products order by 1")
        done = cli("pipeline", "run", "--db", str(db), "--from-dir", str(feeds), "--no-report")
        assert done.returncode == 0, done.stdout + done.stderr
        assert scalar(db, "pragma user_version") == SCHEMA_VERSION
        assert query(db, "select sale_id, quantity from raw_sales order by 1") == before  # nothing lost
        assert query(db, "select sale_id, event from raw_sales_events order by 1") == events
        # prices in whole cents, the same versions; their hashes follow, so the unchanged
        # products feed the run loaded again stored no new version
        assert query(db, "select version_id, price_cents from raw_products order by 1") == [
            (version, round(price * 100)) for version, price in prices
        ]
        pre = list((tmp_path / "backups").glob("w-pre-migration-v0-*.db"))
        assert len(pre) == 1 and scalar(pre[0], "pragma user_version") == 0
        live = query(
            db,
            """select count(*), sum(r.quantity) from raw_sales as r
               where not exists (select 1 from raw_sales_events as e where e.sale_id = r.sale_id and e.event = 'retired'
                                 and not exists (select 1 from raw_sales_events as x where x.sale_id = e.sale_id
                                                 and x.event = 'restored' and x.event_id > e.event_id))""",
        )[0]
        marts = query(
            db, "select sales_count + orphan_sales_count, total_units + orphan_units from mart_revenue_total"
        )[0]
        assert marts == live  # the marts are right on the upgraded warehouse


def test_the_journals_last_number_is_read_from_its_tail(tmp_path: Path) -> None:
    """Asked in every archived load's transaction: it must not read the whole history, and must
    give what reading it all gives, with lines swapped by two loaders and a torn last line."""
    archive = Archive(tmp_path / "archive")
    seqs = list(range(1, 3001))
    seqs[-2], seqs[-1] = seqs[-1], seqs[-2]  # two loaders appended out of order
    for seq in seqs:
        archive.record(Entry(seq=seq, feed="sales", source="s", sha256="0" * 64, started_at="t",
                             loaded_at="t", options={"pad": "x" * 200}))  # fmt: skip
    with open(tmp_path / "archive" / "journal.jsonl", "a") as journal:
        journal.write('{"seq": 9999, "feed"')  # torn by a crash
    assert (tmp_path / "archive" / "journal.jsonl").stat().st_size > 10 * 64 * 1024
    assert archive.last_seq() == max(e.seq for e in archive.entries()) == 3000
    assert Archive(tmp_path / "none").last_seq() == 0
