"""How fast can *any* loader fill our schema? SQLite alone, with no Python in the loop.

    python -m bench.sqlite_floor [--rows 1000000] [--no-docs]

Issue 11 asks for a first load at 2x ``sqlite3 .import``. Before rewriting the parser in C
(pyarrow, polars, ADBC), this measures the floor such a rewrite would hit: the sales file
``.import``-ed into a staging table by the sqlite3 shell (C parsing), then one
``insert or ignore into raw_sales ... select`` computing the sale id in SQL, committed: the
work of a load with no Python at all. (The sheet's snapshot is stored by day since issue 11,
a few hundred compressed rows that pure SQL cannot encode: left out, it is not where a load's
time goes; the integer layout below still writes a snapshot of one key per sale, its own.)
Variants isolate what costs: the occurrence number (a window function), the raw copies.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from loader.generate import generate
from loader.helptext import plain
from loader.schema import statements

from .results import publish

KEY = "d || '|' || r || '|' || s || '|' || q || '|' || {n}"
OCCURRENCE = "row_number() over (partition by d, r, s, q order by rowid)"
VARIANTS = {
    "sale id with its occurrence number (window function), raw copies": (OCCURRENCE, "d, r, q, s"),
    "sale id numbered by line instead (no window function), raw copies": ("rowid", "d, r, q, s"),
    "no window function, no raw copies": ("rowid", "'', '', '', ''"),
}


def shell(db: Path, script: str) -> float:
    started = time.perf_counter()
    subprocess.run(["sqlite3", str(db)], input=script, text=True, check=True, capture_output=True)
    return time.perf_counter() - started


def load_script(sales: Path, occurrence: str, raw: str) -> str:
    return "\n".join(
        [
            *(s.rstrip(";") + ";" for s in statements()),
            "pragma journal_mode = wal;",
            "pragma synchronous = normal;",
            "insert into loader_runs (batch_id, feed, source, started_at, status) values ('b', 'sales', 's', '', 'loaded');",
            "create temp table staging (d text, r text, q text, s text);",
            f".import --csv --skip 1 {sales} staging",
            "begin;",
            f"insert or ignore into raw_sales select {KEY.format(n=occurrence)}, d, r, cast(q as integer), s, {raw}, 1, rowid + 1 from staging;",
            "commit;",
        ]
    )


# A layout issue 11 could move to: an integer key (here the line number times a prime stands in
# for a 64-bit hash of the sale id; the hash itself and its collision check are not measured)
# and a snapshot of integers, instead of ~40-byte text keys stored twice.
INTEGER_LAYOUT = """
create table raw_sales (sale_key integer primary key, sale_date text not null, product_ref text not null,
    quantity integer not null, store_id text not null, raw_date text, raw_product_ref text, raw_quantity text,
    raw_store_id text, load_run_id integer not null, line_number integer not null);
create table sales_snapshot (source_id integer not null, sale_key integer not null,
    primary key (source_id, sale_key)) without rowid;
"""


def integer_key_script(sales: Path) -> str:
    return "\n".join(
        [
            INTEGER_LAYOUT,
            "pragma journal_mode = wal;",
            "pragma synchronous = normal;",
            "create temp table staging (d text, r text, q text, s text);",
            f".import --csv --skip 1 {sales} staging",
            "begin;",
            "insert or ignore into raw_sales select rowid * 7919, d, r, cast(q as integer), s, d, r, q, s, 1, rowid + 1 from staging;",
            "insert into sales_snapshot select 1, sale_key from raw_sales;",
            "commit;",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=plain(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    if not shutil.which("sqlite3"):
        raise SystemExit("needs the sqlite3 command-line shell: apt-get install sqlite3")
    with tempfile.TemporaryDirectory(prefix="sqlite-floor-") as folder:
        work = Path(folder)
        generate(work / "feeds", days=365, rows=args.rows)
        sales = work / "feeds" / "ventes.csv"
        results = [
            (
                "sqlite3 .import (baseline: 4 text columns, no key)",
                shell(work / "import.db", f".import --csv {sales} sales"),
            )
        ]
        for name, (occurrence, raw) in VARIANTS.items():
            db = work / f"{len(results)}.db"
            results.append(
                (f"pure SQLite into our schema: {name}", shell(db, load_script(sales, occurrence, raw)))
            )
        candidate = "pure SQLite into an integer-keyed layout (a candidate for issue 11), raw copies"
        results.append((candidate, shell(work / "integer.db", integer_key_script(sales))))
    base = results[0][1]
    lines = [
        f"Run on {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores; "
        f"{args.rows:,} generated sales lines; each step one `sqlite3` shell process.",
        "",
        "| step | seconds | × `.import` |",
        "|---|---:|---:|",
        *(f"| {name} | {seconds:.2f} | {seconds / base:.2f} |" for name, seconds in results),
    ]
    text = "\n".join(lines)
    publish("floor", "The floor of our schema: SQLite with no Python", text, to_docs=not args.no_docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
