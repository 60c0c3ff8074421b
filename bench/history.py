"""History benchmark: what the landing archive, backups, rebuild and the damage check cost.

    python -m bench.history [--rows 1000000] [--big-rows 10000000] [--no-docs]

At ``--rows`` (1M): a first load without and with the archive (the archive's cost, as a ratio),
the archive's bytes per million rows beside the CSV's, a backup (time, size, and beside it a plain
file copy of the warehouse in the same run: the baseline), ``pipeline rebuild`` from the archive
(replay alone, then with its full dbt build), and ``pragma quick_check`` against reading the file
once. At ``--big-rows`` (10M): a load and ``quick_check`` again (``--big-rows 0`` skips it).
Results are printed and written to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

from loader import LoadOptions, backup, connect, load_feeds
from loader.archive import Archive
from loader.feeds import FEEDS
from loader.generate import generate
from loader.helptext import plain
from loader.integrity import integrity_problem
from pipeline.dbt_runner import run_dbt
from pipeline.history import Replayed, replay_after

from .results import publish

ROOT = Path(__file__).resolve().parents[1]


def seconds(call: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


def load(db: Path, feeds: Path, archive: Path | None) -> None:
    con = connect(db)
    try:
        results = load_feeds(
            con, {s.name: str(feeds / s.file_name) for s in FEEDS}, LoadOptions(archive=archive)
        )
    finally:
        con.close()
    if not all(r.ok for r in results):
        raise SystemExit(f"load failed: {[r.error for r in results]}")


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def read_once(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 22):
            pass


def mib(n: float) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def measure(rows: int, work: Path, with_dbt: bool) -> dict[str, object]:
    shutil.rmtree(work, ignore_errors=True)
    feeds = work / "feeds"
    generate(feeds, days=365, rows=rows, seed=1)
    csv_bytes = (feeds / "ventes.csv").stat().st_size
    out: dict[str, object] = {"rows": rows, "csv": csv_bytes}
    plain_db, db, archive = work / "plain.db", work / "warehouse.db", work / "archive"
    out["load"], _ = seconds(lambda: load(plain_db, feeds, None))
    out["load_archived"], _ = seconds(lambda: load(db, feeds, archive))
    out["archive"] = folder_bytes(archive / "bodies")
    out["db"] = db.stat().st_size
    out["copy"], _ = seconds(lambda: shutil.copyfile(db, work / "copy.db"))
    out["backup"], taken = seconds(lambda: backup.take(db, work / "backups"))
    out["backup_size"] = taken.stat().st_size
    out["integrity_check"], _ = seconds(lambda: integrity_problem(db, full=True))
    out["read"], _ = seconds(lambda: read_once(db))
    out["quick_check"], problem = seconds(lambda: integrity_problem(db, full=False))
    assert problem is None, problem
    if with_dbt:
        rebuilt = work / "rebuilt.db"

        def replay_all() -> None:
            con = connect(rebuilt)
            try:
                replay_after(con, Archive(archive), 0, Replayed())
            finally:
                con.close()

        out["replay"], _ = seconds(replay_all)
        built, proc = seconds(lambda: run_dbt(rebuilt, work / "dbt", "build", "--full-refresh"))
        if proc.returncode != 0:
            raise SystemExit(f"dbt build failed:\n{proc.stdout[-3000:]}")
        out["rebuild_dbt"] = built
        with sqlite3.connect(rebuilt) as a, sqlite3.connect(db) as b:
            same = (
                a.execute("select count(*) from raw_sales").fetchone()
                == b.execute("select count(*) from raw_sales").fetchone()
            )
        assert same, "the rebuilt warehouse differs"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=plain(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=10_000_000)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "history")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()

    small = measure(args.rows, args.work / "small", with_dbt=True)
    big = measure(args.big_rows, args.work / "big", with_dbt=False) if args.big_rows else None
    shutil.rmtree(args.work, ignore_errors=True)

    per_million = 1_000_000 / small["rows"]
    lines = [
        f"`python -m bench.history` on {platform.machine()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}; {small['rows']:,} generated sales over 365 days.",
        "",
        "| step | time | beside, in the same run | ratio |",
        "|---|---:|---|---:|",
        f"| first load with the archive | {small['load_archived']:.2f} s | the same load without it: {small['load']:.2f} s | "
        f"{small['load_archived'] / small['load']:.2f}x |",
        f"| backup (online copy + integrity_check + fsync + rename) | {small['backup']:.2f} s | a plain copy of the file: "
        f"{small['copy']:.2f} s | {small['backup'] / small['copy']:.1f}x |",
        f"| of which `pragma integrity_check` | {small['integrity_check']:.2f} s | | |",
        f"| `pragma quick_check` (every writing command, at start) | {small['quick_check']:.2f} s | reading the file once: "
        f"{small['read']:.2f} s | {small['quick_check'] / max(small['read'], 1e-6):.1f}x |",
        f"| rebuild: replaying the archive | {small['replay']:.2f} s | the first load: {small['load_archived']:.2f} s | "
        f"{small['replay'] / small['load_archived']:.2f}x |",
        f"| rebuild: its full `dbt build` | {small['rebuild_dbt']:.2f} s | | |",
        "",
        "| size | bytes | per million rows |",
        "|---|---:|---:|",
        f"| sales CSV | {mib(small['csv'])} | {mib(small['csv'] * per_million)} |",
        f"| archive (gzip) | {mib(small['archive'])} | {mib(small['archive'] * per_million)} |",
        f"| warehouse (raw tables, no marts) | {mib(small['db'])} | {mib(small['db'] * per_million)} |",
        f"| backup | {mib(small['backup_size'])} | {mib(small['backup_size'] * per_million)} |",
    ]
    if big:
        lines += [
            "",
            f"At {big['rows']:,} rows: warehouse {mib(big['db'])}; `quick_check` {big['quick_check']:.2f} s "
            f"(reading the file once: {big['read']:.2f} s); first load with the archive {big['load_archived']:.1f} s "
            f"({big['load_archived'] / big['load']:.2f}x without); backup {big['backup']:.1f} s.",
        ]
    day_kib = small["archive"] / 365 / 1024
    lines += [
        "",
        f"Per day of this feed ({small['rows'] // 365:,} sales a day), a day's sheet costs {day_kib:.1f} KiB of "
        "archive when only the new day is sent; a whole rolling sheet re-sent each day (the client's 30-day sheet) "
        "adds one compressed copy of it per changed poll. The client's own feed (~30 lines a day) adds a few KiB a day.",
        "",
        "What was chosen: `quick_check` once at the start of each writing command (not per refresh of `watch`: it "
        "reads every page, so it grows with the file); `integrity_check` on each backup, where a damaged copy "
        "would otherwise be kept as the way back.",
    ]
    publish("history", "History: archive, backups, rebuild, damage check", "\n".join(lines), not args.no_docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
