"""Qualify the client's feeds from the warehouse: ``python -m docgen.profile [--db PATH] [--out FILE]``.

Writes docs/data_profile.md: for each feed, its rows, each column as received (inferred type,
empty values, distinct values, min/max, meaning), the date range and its gaps, duplicate lines,
rejected rows by reason and references to unknown products or stores. It reads only the
loader's tables, so it works before dbt has run. Column meanings come from the dbt sources
file, the one place they are written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sqlite3
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import yaml

from loader.db import add_db_argument, read_only
from loader.errors import WarehouseUnavailable
from loader.feeds import PRODUCTS, SALES, STORES
from loader.helptext import plain
from report import fmt

ROOT = Path(__file__).resolve().parents[1]
SOURCES_YML = ROOT / "dbt_project" / "models" / "staging" / "_sources.yml"

PROFILED = (SALES, PRODUCTS, STORES)  # the order of the sections: the live feed first

_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?\d+([.,]\d+)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SLASH_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")


def meanings() -> dict[str, tuple[str, dict[str, str]]]:
    """{table: (description, {column: description})} from the dbt sources file."""
    spec = yaml.safe_load(SOURCES_YML.read_text(encoding="utf-8"))

    def clean(text: str | None) -> str:
        return " ".join((text or "").split())

    return {
        table["name"]: (
            clean(table.get("description")),
            {c["name"]: clean(c.get("description")) for c in table.get("columns", [])},
        )
        for source in spec["sources"]
        for table in source["tables"]
    }


def infer_type(values: Sequence[str]) -> str:
    """The narrowest type every non-empty received value fits."""
    present = [v.strip() for v in values if v is not None and v.strip()]
    if not present:
        return "empty"
    for name, pattern in (("integer", _INTEGER), ("decimal", _DECIMAL), ("date (ISO)", _ISO_DATE),
                          ("date (DD/MM/YYYY)", _SLASH_DATE)):  # fmt: skip
        if all(pattern.match(v) for v in present):
            return name
    return "text"


def column_profile(con: sqlite3.Connection, table: str, received: str, parsed: str) -> dict[str, object]:
    total, empty, distinct, low, high = con.execute(
        f"select count(*), sum(trim({received}) = ''), count(distinct {received}), min({parsed}), max({parsed}) "
        f"from {table}"
    ).fetchone()
    sample = [r[0] for r in con.execute(f"select distinct {received} from {table} limit 5000")]
    return {"rows": total, "empty": empty or 0, "distinct": distinct, "min": low, "max": high,
            "type": infer_type(sample)}  # fmt: skip


def date_gaps(con: sqlite3.Connection) -> tuple[str | None, str | None, list[str]]:
    first, last = con.execute("select min(sale_date), max(sale_date) from raw_sales").fetchone()
    if first is None:
        return None, None, []
    seen = {r[0] for r in con.execute("select distinct sale_date from raw_sales")}
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    missing = [
        (start + dt.timedelta(days=i)).isoformat()
        for i in range((end - start).days + 1)
        if (start + dt.timedelta(days=i)).isoformat() not in seen
    ]
    return first, last, missing


def reject_reasons(con: sqlite3.Connection, feed: str) -> Counter:
    """Rejected rows by reason, with the quoted values blanked so that like reasons group."""
    reasons: Counter = Counter()
    for (reason,) in con.execute("select reason from loader_rejects where feed = ?", (feed,)):
        reasons[re.sub(r"'[^']*'", "'…'", re.sub(r"line \d+", "line …", reason))] += 1
    return reasons


def orphans(con: sqlite3.Connection) -> dict[str, list[tuple[str, int]]]:
    return {
        "products": con.execute(
            "select product_ref, count(*) from raw_sales where product_ref not in "
            "(select product_ref from raw_products) group by product_ref order by 2 desc"
        ).fetchall(),
        "stores": con.execute(
            "select store_id, count(*) from raw_sales where store_id not in "
            "(select store_id from raw_stores) group by store_id order by 2 desc"
        ).fetchall(),
    }


def cell(value: object) -> str:
    """A value as a Markdown table cell."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def render(
    con: sqlite3.Connection, generated: dt.date, as_of: str | None = None, source_folder: str | None = None
) -> str:
    """The profile; ``as_of`` stands for every load time and ``source_folder``/<feed file> for every
    source when given (``make docs``: the same feeds give the same page, whatever the day and the
    loopback port they were served on)."""
    files = {spec.name: spec.file_name for spec in PROFILED}
    described = meanings()
    out = [
        "# Data profile: the client's feeds",
        "",
        f"Generated on {generated.isoformat()} by `python -m docgen.profile` from the warehouse "
        "(the loader's raw tables, `loader_runs` and `loader_rejects`); regenerate it after each load.",
        "",
    ]
    runs = {
        feed: con.execute(
            "select count(*), sum(rows_read), sum(rows_inserted), sum(rows_duplicate), sum(rows_rejected), "
            "max(loaded_at), group_concat(distinct source) from loader_runs where feed = ? and status = 'loaded'",
            (feed,),
        ).fetchone()
        for feed in (spec.name for spec in PROFILED)
    }
    out += [
        "## Loads",
        "",
        "| feed | loads | rows read | inserted | already present | rejected | last load | source |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for feed, (loads, read, inserted, dup, rejected, last, source) in runs.items():
        out.append(
            f"| {feed} | {loads} | {cell(read)} | {cell(inserted)} | {cell(dup)} | {cell(rejected)} | "
            f"{as_of or last or '-'} | `{f'{source_folder}/{files[feed]}' if source_folder else source or '-'}` |"
        )
    for spec in PROFILED:
        feed, table = spec.name, spec.table
        total = con.execute(f"select count(*) from {table}").fetchone()[0]
        description, column_descriptions = described.get(table, ("", {}))
        out += ["", f"## {feed} (`{table}`)", "", description, "", f"{total:,} rows stored."]
        if spec.versioned:
            key = spec.column(spec.key).typed
            entities = con.execute(f"select count(distinct {key}) from {table}").fetchone()[0]
            out[-1] = (
                f"{total:,} versions of {entities:,} {feed} (a new version is stored only when a "
                f"{feed[:-1]}'s content changes)."
            )
        out += [
            "",
            "| column as received | inferred type | empty | distinct | min (parsed) | max (parsed) | meaning |",
            "|---|---|---:|---:|---|---|---|",
        ]
        for column in spec.columns:
            received, parsed = column.raw, column.typed
            p = column_profile(con, table, received, parsed)
            if column.kind == "cents":  # stored in whole cents, shown as the euros people typed
                p.update({k: p[k] / 100 for k in ("min", "max") if p[k] is not None})
            meaning = column_descriptions.get(received, "")
            out.append(
                f"| `{received}` | {p['type']} | {cell(p['empty'])} | {cell(p['distinct'])} | {cell(p['min'])} | "
                f"{cell(p['max'])} | {meaning} |"
            )
        if feed == "sales":
            first, last, missing = date_gaps(con)
            repeats = con.execute("select count(*) from raw_sales where sale_id not like '%|1'").fetchone()[0]
            days = (dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days + 1 if first else 0
            out += [
                "",
                f"- Date range: {first or '-'} to {last or '-'} ({days:,} days); days without any sale: "
                f"{len(missing):,}" + (f" (first ones: {', '.join(missing[:10])})" if missing else "") + ".",
                f"- Identical lines: {repeats:,} sales repeat an earlier line of the same day, product, store "
                "and quantity (kept as distinct sales, numbered by occurrence in `sale_id`).",
            ]
            refs = orphans(con)
            for kind, rows in refs.items():
                listed = ", ".join(f"`{ref}` ({n:,} sales)" for ref, n in rows[:10])
                out.append(
                    f"- Sales citing unknown {kind}: {sum(n for _r, n in rows):,}"
                    + (f": {listed}" if rows else "")
                    + "."
                )
        reasons = reject_reasons(con, feed)
        out += ["", f"Rejected rows: {sum(reasons.values()):,}."]
        if reasons:
            out += ["", "| reason | rows |", "|---|---:|"]
            out += [f"| {cell(reason)} | {n:,} |" for reason, n in reasons.most_common()]
    out.append("")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m docgen.profile", description=plain(__doc__.splitlines()[0])
    )
    add_db_argument(parser, "the loaded warehouse, read-only")
    parser.add_argument("--out", type=Path, default=Path("docs/data_profile.md"))
    parser.add_argument(
        "--as-of", help="UTC time shown for the generation and every load (default: the real ones)"
    )
    parser.add_argument(
        "--source-folder", help="shown as FOLDER/<file> for each feed's source (default: the URL)"
    )
    args = parser.parse_args(argv)
    generated = dt.date.fromisoformat(args.as_of[:10]) if args.as_of else fmt.paris_today()
    try:
        with read_only(args.db, "run the loader first") as con:
            text = render(con, generated, args.as_of, args.source_folder)
    except WarehouseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
