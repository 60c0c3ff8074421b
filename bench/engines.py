"""The same dbt models on SQLite, DuckDB and Spark, at 1M and 10M sales, in one run.

    python -m bench.engines [--rows 1000000 10000000] [--engines sqlite duckdb spark] [--no-docs]

For each size: a generated sales feed is loaded (the loader lands Parquet as it commits), every
engine runs `dbt build --full-refresh` (models and every test), then 0.1% more sales are
appended and loaded and every engine runs an incremental `dbt build`. Each build is timed
(wall, models' execution from run_results.json) with the peak memory of the dbt process and
its children (Spark's JVM included), sampled 5 times a second. Every build must pass every test: at 10M rows that is
the proof that money reconciles to the cent. Results go to docs/scaling.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from loader.generate import generate
from loader.helptext import plain
from pipeline.dbt_runner import DBT, ROOT, dbt_env

from .results import write_section


def tree_rss_mib(root: int) -> float:
    """Resident memory of a process and all its descendants (Spark's JVM is dbt's child)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier and pid not in tree}
        tree |= frontier
    return sum(rss.get(pid, 0) for pid in tree) / 2**20


@dataclass
class Build:
    wall: float
    models: float
    peak_mib: float
    ok: bool


def build(db: Path, work: Path, engine: str, *extra: str) -> Build:
    command = [str(DBT), "--no-use-colors", "build", "--target", engine, *extra]
    command += ["--project-dir", str(ROOT), "--profiles-dir", str(ROOT)]
    work.mkdir(parents=True, exist_ok=True)
    log = work / "build.log"
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=dbt_env(db, work), stdout=out, stderr=subprocess.STDOUT
        )
        peak = 0.0
        while proc.poll() is None:  # sampled 5 times a second: the peak of the whole process tree
            peak = max(peak, tree_rss_mib(proc.pid))
            time.sleep(0.2)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        print(f"dbt build --target {engine} failed:\n{log.read_text()[-3000:]}", file=sys.stderr)
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    models = sum(r["execution_time"] for r in results if r["unique_id"].startswith("model."))
    return Build(wall, models, peak, proc.returncode == 0)


def load(db: Path, feeds: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "loader", "--db", str(db), "--from-dir", str(feeds), "--no-archive"],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - started


def size_of(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(
        description=plain(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--engines", nargs="+", default=["sqlite", "duckdb", "spark"])
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "engines")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()

    table = [
        "| rows | engine | build | wall (s) | × SQLite | models (s) | peak memory (MiB) | every test passed |",
        "|---:|---|---|---:|---:|---:|---:|---|",
    ]
    notes = []
    for rows in args.rows:
        work = args.work / f"{rows}"
        shutil.rmtree(work, ignore_errors=True)
        feeds, db = work / "feeds", work / "warehouse.db"
        generate(feeds, days=365, rows=rows)
        loaded = load(db, feeds)
        notes.append(
            f"{rows:,} rows: loaded (with its Parquet landing) in {loaded:.0f} s; warehouse "
            f"{db.stat().st_size / 2**20:.0f} MiB, Parquet landing {size_of(work / 'parquet'):.0f} MiB."
        )
        full = {engine: build(db, work / engine, engine, "--full-refresh") for engine in args.engines}
        generate(feeds, days=2, rows=max(rows // 1000, 1000), append=True)
        load(db, feeds)
        incremental = {engine: build(db, work / engine, engine) for engine in args.engines}
        for name, runs in (("full refresh", full), ("incremental (+0.1%)", incremental)):
            base = runs.get("sqlite")
            for engine, b in runs.items():
                ratio = f"{b.wall / base.wall:.2f}" if base else "-"
                table.append(
                    f"| {rows:,} | {engine} | {name} | {b.wall:.1f} | {ratio} | {b.models:.1f} | "
                    f"{b.peak_mib:.0f} | {'yes' if b.ok else '**no**'} |"
                )
        print("\n".join(table), flush=True)
        shutil.rmtree(work, ignore_errors=True)  # 10M rows take gigabytes

    text = "\n".join(
        [
            f"Run on {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, by "
            "`python -m bench.engines` (`make bench`). Generated sales over 365 days; each build is "
            "`dbt build` (models and every test); × SQLite compares the wall time with SQLite's in the "
            "same run. Peak memory: the dbt process and its children (Spark's JVM).",
            "",
            *table,
            "",
            *(f"- {n}" for n in notes),
        ]
    )
    print(text)
    if not args.no_docs:
        write_section(
            ROOT / "docs" / "scaling.md", "engines", "Measured: the same models on three engines", text
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
