"""Loader benchmark: our loads side by side with `sqlite3 .import` of the same file, in one run.

    python -m bench.loader_speed [--rows 1000000] [--big-rows 10000000] [--no-docs]

Every timed step is a separate process, run one after the other on the same machine, and
reported as a ratio to the `.import` baseline measured in the same run: these machines are
noisy, ratios much less. Peak memory is the loader's own report (--json): its process plus
the forked parser process, added up.
Results are printed and written to docs/benchmarks.md (between this bench's markers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loader.generate import generate
from loader.helptext import plain

from .peers import dlt_merge, install, measured, sqlite_utils
from .results import publish

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Step:
    name: str
    seconds: float
    peak_mb: float | None
    note: str = ""


REPEAT = 3  # each timed step runs this many times; the table shows the median


def median_of(repeat: int, step: Callable[[], tuple[float, float | None]]) -> tuple[float, float | None]:
    """Median seconds (and the largest peak memory) of ``repeat`` runs of a step."""
    runs = [step() for _ in range(repeat)]
    peaks = [p for _s, p in runs if p is not None]
    return statistics.median(s for s, _p in runs), max(peaks) if peaks else None


def timed(cmd: list[str], cwd: Path = ROOT) -> tuple[float, str]:
    """Run ``cmd``; return (wall seconds, its stdout)."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr}")
    return elapsed, proc.stdout


def fresh(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def load(db: Path, sales: Path, *extra: str, prefix: list[str] | None = None) -> tuple[float, float]:
    """(seconds, peak MiB): the peaks of the loader and of its parser process, added up."""
    command = [
        *(prefix or []),
        sys.executable,
        "-m",
        "loader",
        "--db",
        str(db),
        "--only",
        "sales",
        "--sales",
        str(sales),
        "--json",
    ]
    seconds, out = timed([*command, *extra])
    return seconds, sum(json.loads(out)["peak_rss_mb"].values())


def run(rows: int, big_rows: int, work: Path, with_peers: bool) -> tuple[list[Step], list[Step]]:
    sqlite3_cli = shutil.which("sqlite3")
    if not sqlite3_cli:
        raise SystemExit("the baseline needs the sqlite3 command-line shell: apt-get install sqlite3")
    feeds = work / "feeds"
    shutil.rmtree(work, ignore_errors=True)
    generate(feeds, days=365, rows=rows)
    sales = feeds / "ventes.csv"
    base_db, db = work / "import.db", work / "warehouse.db"

    def baseline() -> tuple[float, float]:
        fresh(base_db)
        return measured([sqlite3_cli, str(base_db), ".import --csv " + str(sales) + " sales"])

    def first_load() -> tuple[float, float]:
        fresh(db)
        return load(db, sales)

    def one_core() -> tuple[float, float]:
        fresh(db)
        return load(db, sales, prefix=["taskset", "-c", "0"])

    appended = feeds / "appended"

    def append_load() -> tuple[float, float]:
        fresh(db)
        load(db, sales)  # the feed as it was, then the feed with 1% more lines
        return load(db, appended / "ventes.csv")

    steps: list[Step] = []
    steps.append(Step("sqlite3 .import (baseline: no dedup, no types)", *median_of(REPEAT, baseline)))
    steps.append(Step("first load", *median_of(REPEAT, first_load)))
    if shutil.which("taskset"):
        steps.append(Step("first load, one core (`taskset -c 0`)", *median_of(REPEAT, one_core)))
    steps.append(Step("reload, unchanged (sha256 shortcut)", *median_of(REPEAT, lambda: load(db, sales))))
    steps.append(
        Step(
            "reload, shortcuts disabled (--force: every row through the key)",
            *median_of(REPEAT, lambda: load(db, sales, "--force")),
        )
    )
    resent = work / "resent.csv"  # a source of its own: the sheet published again, same sales
    resent.write_bytes(sales.read_bytes())
    load(db, resent)  # that source's first snapshot

    def resent_load() -> tuple[float, float]:
        with resent.open("ab") as out:  # other bytes each time (no sha256 shortcut), the same sales
            out.write(b"\r\n")
        return load(db, resent)

    steps.append(
        Step(
            "reload, the same sales in other bytes (every day listed as before: not inserted again)",
            *median_of(REPEAT, resent_load),
        )
    )
    shutil.copytree(feeds, appended)
    generate(appended, days=4, rows=rows // 100, append=True)
    steps.append(
        Step("feed + 1% appended lines", *median_of(REPEAT, append_load), note=f"{rows // 100:,} new rows")
    )

    edited = feeds / "edited"
    edited.mkdir()
    shutil.copy(feeds / "produits.csv", edited)
    shutil.copy(feeds / "magasins.csv", edited)
    edit_one_percent(sales, edited / "ventes.csv")

    def edited_load() -> tuple[float, float]:
        fresh(db)
        load(db, sales)  # the sheet as it was, then with 1% of its lines edited or deleted
        return load(db, edited / "ventes.csv")

    steps.append(
        Step(
            "sheet with 1% of lines edited or deleted (snapshot diff)",
            *median_of(REPEAT, edited_load),
            note=f"{rows // 100:,} lines changed",
        )
    )

    peers_python = install(work.parent / "peers") if with_peers else None
    if peers_python:
        peer_db = work / "peer.db"

        def sqlite_utils_load() -> tuple[float, float]:
            fresh(peer_db)
            return measured(sqlite_utils(peers_python, peer_db, sales))

        steps.append(
            Step(
                "peer: `sqlite-utils insert --csv` (no dedup, no types)",
                *median_of(REPEAT, sqlite_utils_load),
            )
        )

    big: list[Step] = []
    if big_rows:
        big_feeds = work / "big"
        started = time.perf_counter()
        generate(big_feeds, days=3 * 365, rows=big_rows)
        big.append(Step(f"generate {big_rows:,} sales lines", time.perf_counter() - started, None))
        big_db = work / "big.db"
        big.append(Step(f"first load of {big_rows:,} rows", *load(big_db, big_feeds / "ventes.csv")))
        fresh(big_db)
    return steps, big


def peer_steps(rows: int, work: Path) -> list[Step]:
    """`.import`, our loader and the peers on a smaller feed, one run each."""
    python = install(work.parent / "peers")
    if python is None:
        return []
    folder = work / "peers"
    generate(folder / "feeds", days=365, rows=rows)
    sales, db, ours = folder / "feeds" / "ventes.csv", folder / "peer.db", folder / "ours.db"
    steps = [Step("sqlite3 .import", *measured([shutil.which("sqlite3") or "sqlite3", str(folder / "import.db"),
                                                ".import --csv " + str(sales) + " sales"]))]  # fmt: skip
    steps.append(Step("our first load", *load(ours, sales)))
    steps.append(
        Step(
            "our reload of the same rows (--force: every row through the key)", *load(ours, sales, "--force")
        )
    )
    fresh(db)
    steps.append(Step("`sqlite-utils insert --csv` (no dedup)", *measured(sqlite_utils(python, db, sales))))
    fresh(db)
    steps.append(Step("dlt `merge` on sale_id, first load", *measured(dlt_merge(python, db, sales, folder))))
    steps.append(
        Step(
            "dlt `merge` on sale_id, reload of the same rows", *measured(dlt_merge(python, db, sales, folder))
        )
    )
    return steps


def edit_one_percent(source: Path, target: Path) -> None:
    """Every 100th line changed: its quantity corrected (one in two) or the line deleted."""
    with (
        source.open(encoding="utf-8", newline="") as src,
        target.open("w", encoding="utf-8", newline="") as out,
    ):
        for number, line in enumerate(src):
            if number and number % 100 == 50:
                if number % 200 == 50:
                    continue  # deleted
                date, ref, quantity, store = line.rstrip("\r\n").split(",")
                line = f"{date},{ref},{int(quantity) + 100},{store}" + line[len(line.rstrip("\r\n")) :]
            out.write(line)


def table(steps: list[Step]) -> list[str]:
    base = steps[0].seconds
    lines = [
        "| step | seconds | × `.import` | peak memory (MiB) | note |",
        "|---|---:|---:|---:|---|",
    ]
    for step in steps:
        peak = f"{step.peak_mb:.0f}" if step.peak_mb is not None else "-"
        lines.append(
            f"| {step.name} | {step.seconds:.2f} | {step.seconds / base:.2f} | {peak} | {step.note} |"
        )
    return lines


def render(rows: int, steps: list[Step], big: list[Step], peers: list[Step], peer_rows: int) -> str:
    def seconds(prefix: str) -> float | None:
        return next((s.seconds for s in steps if s.name.startswith(prefix)), None)

    base, first, one_core = steps[0].seconds, seconds("first load"), seconds("first load, one core")
    unchanged, forced = seconds("reload, unchanged"), seconds("reload, shortcuts disabled")
    edited, resent = seconds("sheet with 1%"), seconds("reload, the same sales in other bytes")
    lines = [
        f"Run on {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; sales feed of {rows:,} generated rows; "
        f"each step is the median of {REPEAT} runs. Peak memory: the loader and its parser process "
        "added up; for the others, their largest process.",
        "",
        *table(steps),
        "",
        f"Targets (issue 11): first load ≤ 2× `.import` (**{first / base:.2f}×**); forced reload, every row "
        f"through the key, ≤ 2× (**{forced / base:.2f}×**; a reload whose days are all listed as before: "
        f"{resent / base:.2f}×); one core ≤ 3× "
        f"(**{f'{one_core / base:.2f}×' if one_core else 'not measured: no taskset'}**). Unchanged reload "
        f"< 10% of the first load (**{unchanged / first:.1%}**); a sheet with 1% of lines edited or "
        f"deleted (every day changed) ≤ 1.5× the forced reload (**{edited / forced:.2f}×**).",
    ]
    if peers:
        lines += [
            "",
            f"At {peer_rows:,} rows (dlt is too slow for 1M), one run each, ratios to `.import` of that file:",
            "",
            *table(peers),
        ]
    if big:
        lines += [
            "",
            "| large feed | seconds | peak memory (MiB, loader + parser process) |",
            "|---|---:|---:|",
        ]
        for step in big:
            peak = f"{step.peak_mb:.0f}" if step.peak_mb is not None else "-"
            lines.append(f"| {step.name} | {step.seconds:.1f} | {peak} |")
        lines += [
            "",
            "Targets: 10M lines generated in well under 2 minutes; loader peak memory ≤ 150 MB (issue 11).",
        ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=plain(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the main feed (1,000,000)")
    parser.add_argument("--big-rows", type=int, default=10_000_000, help="rows of the memory check (0: skip)")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "loader")
    parser.add_argument("--peer-rows", type=int, default=100_000, help="rows of the dlt comparison (100,000)")
    parser.add_argument("--no-peers", action="store_true", help="skip sqlite-utils and dlt")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    steps, big = run(args.rows, args.big_rows, args.work, not args.no_peers)
    peers = [] if args.no_peers else peer_steps(args.peer_rows, args.work)
    text = render(args.rows, steps, big, peers, args.peer_rows)
    publish("loader", "Loader", text, to_docs=not args.no_docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
