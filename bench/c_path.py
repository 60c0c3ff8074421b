"""Would a C-level path reach 2x ``sqlite3 .import``? The prototype of issue 11, measured beside the loader.

    python -m bench.c_path [--rows 1000000] [--big-rows 10000000] [--no-docs]

Issue 11 suggests a C-level path: pyarrow's CSV reader, keys and occurrence numbers computed on
whole columns, ADBC ingest into a staging table, one ``insert or ignore ... select``. This bench
runs that path (``bench/c_path_worker.py``, in a virtualenv of its own under bench/out/cpath-venv
with pyarrow, adbc-driver-sqlite and numpy: none of them is in requirements.txt) on the same
file as ``.import`` and our loader, into today's ``raw_sales`` and into a candidate
integer-keyed layout, with ADBC or the stdlib binding for the rows. Each step is a separate
process; the table gives the median of three runs as ratios to ``.import`` in the same run,
then where one run of each variant spends its time, what the dependencies weigh, and a
second table on a 10M-row feed (time and peak memory of the streamed path).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from loader.generate import generate
from loader.helptext import plain

from .loader_speed import REPEAT, Step, fresh, load, median_of, table
from .peers import install, measured
from .results import publish

HERE = Path(__file__).resolve().parent
PACKAGES = ("pyarrow==26.0.1", "adbc-driver-sqlite==1.13.0", "numpy==2.4.6", "requests==2.34.2")
VARIANTS = {  # (layout, ingest) -> how the table names it
    ("text", "adbc"): "C path, today's `raw_sales`, ADBC staging file",
    ("text", "executemany"): "C path, today's `raw_sales`, stdlib multi-row INSERT",
    ("integer", "adbc"): "C path, integer-keyed candidate, ADBC staging file",
    ("integer", "executemany"): "C path, integer-keyed candidate, stdlib staging",
}
DEPENDENCIES = ("pyarrow", "adbc_driver_sqlite", "adbc_driver_manager", "numpy")


def installed_mib(python: Path, package: str) -> float:
    site = next((python.parent.parent / "lib").glob("python3*/site-packages"))
    files = (f for f in (site / package).rglob("*") if f.is_file())
    return sum(f.stat().st_size for f in files) / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(
        description=plain(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=10_000_000, help="0: no large-feed table")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    sqlite3_cli, taskset = shutil.which("sqlite3"), shutil.which("taskset")
    if not sqlite3_cli or not taskset:
        raise SystemExit("needs the sqlite3 shell and taskset: apt-get install sqlite3 util-linux")
    python = install(HERE / "out" / "cpath-venv", PACKAGES, "pyarrow, ADBC and numpy")
    if python is None:
        return 1
    with tempfile.TemporaryDirectory(prefix="c-path-") as folder:
        work = Path(folder)
        generate(work / "feeds", days=365, rows=args.rows)
        sales, db, phases_file = work / "feeds" / "ventes.csv", work / "warehouse.db", work / "phases.json"

        def baseline() -> tuple[float, float]:
            fresh(work / "import.db")
            return measured([sqlite3_cli, str(work / "import.db"), f".import --csv {sales} sales"])

        def ours(one_core: bool = False, reload: bool = False):
            def step() -> tuple[float, float]:
                fresh(db)
                if reload:
                    load(db, sales)  # the first load the reload repeats
                    return load(db, sales, "--force")
                return load(db, sales, prefix=[taskset, "-c", "0"] if one_core else None)

            return step

        phases: dict[str, dict[str, float]] = {}

        def c_path(layout: str, ingest: str, one_core: bool = False, reload: bool = False, big: bool = False):  # fmt: skip
            command = [str(python), str(HERE / "c_path_worker.py"), "--db", str(db), "--sales", str(sales)]
            command += ["--layout", layout, "--ingest", ingest, "--phases", str(phases_file)]

            def step() -> tuple[float, float]:
                fresh(db)
                if reload:
                    measured(command)  # the first load the reload repeats
                result = measured([taskset, "-c", "0", *command] if one_core else command)
                name = f"{VARIANTS[layout, ingest]}, {'reload' if reload else 'first load'}{', large feed' if big else ''}"
                phases[name] = json.loads(phases_file.read_text())
                return result

            return step

        steps = [Step("sqlite3 .import (baseline: no dedup, no types)", *median_of(REPEAT, baseline))]
        steps.append(Step("our loader, first load", *median_of(REPEAT, ours())))
        steps.append(Step("our loader, first load, one core", *median_of(REPEAT, ours(one_core=True))))
        steps.append(Step("our loader, forced reload", *median_of(REPEAT, ours(reload=True))))
        for (layout, ingest), name in VARIANTS.items():
            steps.append(Step(f"{name}, first load", *median_of(REPEAT, c_path(layout, ingest))))
            steps.append(
                Step(
                    f"{name}, first load, one core", *median_of(REPEAT, c_path(layout, ingest, one_core=True))
                )
            )
            steps.append(Step(f"{name}, reload", *median_of(REPEAT, c_path(layout, ingest, reload=True))))
        big: list[Step] = []
        if args.big_rows:
            generate(work / "big", days=3 * 365, rows=args.big_rows)
            sales, db = work / "big" / "ventes.csv", work / "big.db"
            fresh(work / "import.db")
            big.append(Step("sqlite3 .import", *baseline()))
            big.append(Step("our loader, first load", *ours()()))
            big.append(
                Step(
                    f"{VARIANTS['integer', 'adbc']}, first load (streamed)",
                    *c_path("integer", "adbc", big=True)(),
                )
            )
    publish(
        "cpath",
        "The C-level path of issue 11, prototyped",
        render(args.rows, steps, phases, python, big, args.big_rows),
        not args.no_docs,
    )
    return 0


def render(
    rows: int,
    steps: list[Step],
    phases: dict[str, dict[str, float]],
    python: Path,
    big: list[Step],
    big_rows: int,
) -> str:
    names = sorted({phase for run in phases.values() for phase in run}, key=lambda p: _ORDER.index(p))
    sizes = ", ".join(f"{package} {installed_mib(python, package):.0f} MiB" for package in DEPENDENCIES)
    lines = [
        f"Run on {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {rows:,} generated sales rows; each step is the median "
        f"of {REPEAT} runs, a process of its own (peak memory: our loader's process and its parser "
        "process added up; for the others, their largest process).",
        "",
        *table(steps),
        "",
        "Where the time goes (seconds, the last run of each; the rest of a step is the interpreter's start-up):",
        "",
        "| run | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
        *(
            f"| {run} | " + " | ".join(f"{seconds[n]:.2f}" if n in seconds else "-" for n in names) + " |"
            for run, seconds in phases.items()
        ),
        "",
        f"Installed size of the C path's dependencies: {sizes} (numpy is already installed, for matplotlib).",
    ]
    if big:
        lines += [
            "",
            f"A large feed of {big_rows:,} rows, one run each (the integer-keyed path streams the file in "
            "blocks; peak memory counted as above):",
            "",
            *table(big),
        ]
    return "\n".join(lines)


_ORDER = [  # the phases of bench/c_path_worker.py, in the order they run
    "imports",
    "read_csv",
    "read_csv (blocks)",
    "distinct values, occurrence numbers",
    "distinct values, occurrence numbers, keys",
    "sale ids",
    "snapshot encoded",
    "snapshot encoded and stored",
    "columns to Python",
    "ADBC ingest into the staging file",
    "executemany into the staging file",
    "insert into raw_sales",
    "collision check against stored keys",
    "snapshot stored, commit",
]


if __name__ == "__main__":
    raise SystemExit(main())
