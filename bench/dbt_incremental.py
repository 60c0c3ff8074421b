"""dbt benchmark: a full refresh against an incremental build after a 1% append, in one run.

    python -m bench.dbt_incremental [--rows 1000000] [--no-docs]

Loads a generated sales feed, times `dbt run --full-refresh` and `dbt build --full-refresh`,
appends 1% more sales (later days), loads them, then times the incremental `dbt run` and
`dbt build`. Ratios incremental / full refresh are what to read: absolute seconds vary a lot on
these shared machines. Results are printed and written to docs/benchmarks.md.
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
from collections.abc import Callable
from pathlib import Path

from loader.generate import generate
from loader.helptext import plain
from pipeline.dbt_runner import run_dbt

from .results import publish

ROOT = Path(__file__).resolve().parents[1]


def timed(what: str, call: Callable[[], subprocess.CompletedProcess]) -> float:
    started = time.perf_counter()
    proc = call()
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - started


def model_seconds(target: Path) -> float:
    """Time dbt spent executing models in its last run (run_results.json), start-up excluded."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    return sum(r["execution_time"] for r in results if r["unique_id"].startswith("model."))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=plain(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "dbt")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()

    shutil.rmtree(args.work, ignore_errors=True)
    feeds, db = args.work / "feeds", args.work / "warehouse.db"
    loader = [sys.executable, "-m", "loader", "--db", str(db), "--from-dir", str(feeds)]

    def load() -> None:
        timed("loader", lambda: subprocess.run(loader, cwd=ROOT, capture_output=True, text=True))

    def dbt(*command: str) -> float:
        return timed(f"dbt {' '.join(command)}", lambda: run_dbt(db, args.work, *command))

    generate(feeds, days=365, rows=args.rows)
    load()
    steps: dict[str, tuple[float, float]] = {}  # name -> (wall seconds, model execution seconds)

    def step(name: str, *command: str) -> None:
        steps[name] = (dbt(*command), model_seconds(args.work / "target"))

    step("full refresh, dbt run", "run", "--full-refresh")
    step("full refresh, dbt build (models + tests)", "build", "--full-refresh")
    generate(feeds, days=4, rows=args.rows // 100, append=True)
    load()
    step("incremental after +1%, dbt run", "run")
    generate(feeds, days=4, rows=args.rows // 100, append=True)
    load()
    step("incremental after +1%, dbt build (models + tests)", "build")
    startup = dbt("parse")

    lines = [
        f"Run on {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores; "
        f"{args.rows:,} generated sales rows, then 1% appended ({args.rows // 100:,} rows over 4 later days).",
        "",
        "| step | wall seconds | × its full refresh | models' execution (s) | × its full refresh |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (wall, models) in steps.items():
        base_wall, base_models = steps[
            "full refresh, dbt build (models + tests)" if "build" in name else "full refresh, dbt run"
        ]
        lines.append(
            f"| {name} | {wall:.1f} | {wall / base_wall:.2f} | {models:.1f} | {models / base_models:.2f} |"
        )
    lines.append(f"| (dbt start-up alone: `dbt parse`) | {startup:.1f} | | | |")
    full_wall, full_models = steps["full refresh, dbt run"]
    inc_wall, inc_models = steps["incremental after +1%, dbt run"]
    lines += [
        "",
        f"Target: incremental build under 25% of the full refresh. Models' execution time (what the "
        f"incremental design controls): **{inc_models / full_models:.0%}**. Wall clock of `dbt run`, "
        f"including dbt's fixed start-up of about {startup:.0f} s: **{inc_wall / full_wall:.0%}**. "
        "`dbt build` also runs every test, and the tests check whole tables (keys, relationships, "
        "reconciliation) whatever changed, so its ratio is higher.",
    ]
    text = "\n".join(lines)
    publish("dbt", "dbt: full refresh vs incremental", text, to_docs=not args.no_docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
