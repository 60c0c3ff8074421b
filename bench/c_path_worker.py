"""One load of the sales feed through a C-level path: the prototype that issue 11 asked to measure.

    python bench/c_path_worker.py --db DB --sales CSV --layout text|integer --ingest adbc|executemany

Run by ``bench.c_path`` in a virtualenv of its own (pyarrow, adbc-driver-sqlite, numpy: never
in requirements.txt). It does the work of a first load or of a forced reload of a well-formed
UTF-8 feed, vectorised, so that its time is what such a path would cost in the loader:

1. pyarrow's CSV reader reads the whole file (all columns as text, in C, on every core);
2. each column is dictionary-encoded and only its distinct texts go through the loader's own
   parsers (``loader.sales_parser.sales_parsers``): a feed of 1M lines has a few thousand;
3. the occurrence number of each natural key (the ``|n`` of the sale id) comes from a stable
   argsort of the rows' combined codes (numpy), the sale id from one Arrow string join;
4. the sheet's snapshot (``sales_snapshot_days``) is encoded per day as the loader does;
5. the rows reach SQLite in one of three ways:
   - ``text`` + ``adbc``: ADBC ingests them into a staging file, which the loader's own
     connection attaches and copies with one ``insert or ignore ... select`` into today's
     ``raw_sales`` (text key, ``without rowid``), in the same transaction as the snapshot;
   - ``text`` + ``executemany``: the loader's own multi-row INSERT, fed from Arrow columns;
   - ``integer`` + ``adbc``: a candidate layout keyed by a 64-bit integer (the day in the high
     bits, a hash of the rest below it), staged as integers sorted by key, the values joined
     from small tables of distinct texts. Its collision check is NOT measured (a real layout
     needs one: a hash can map two sales to one key).

What this prototype does not do, and a product would have to: streaming (the whole file is held
in memory: it does not meet the 150 MB bound at 10M rows), the fall-back to the row-by-row
parser for files pyarrow refuses or batches with a bad row (rejects with line numbers), other
encodings, blank lines and quoted newlines (line numbers are counted as rows here).
Writes the seconds of each phase, as JSON, to ``--phases``.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before the imports, which are part of the path's cost
# ruff: noqa: E402 (the imports below are timed)

import argparse
import hashlib
import json
import sqlite3
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import adbc_driver_sqlite.dbapi as adbc
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loader.feeds import SALES, map_header
from loader.sales import INSERT_COLUMNS, ROWS_PER_STATEMENT, insert_statement
from loader.sales_parser import sales_parsers
from loader.schema import statements
from loader.snapshots import encode_day
from loader.values import Limits

INTEGER_LAYOUT = """
create table if not exists raw_sales (
    sale_key integer primary key, occurrence integer not null,
    sale_date text not null, product_ref text not null, quantity integer not null, store_id text not null,
    raw_date text not null, raw_product_ref text not null, raw_quantity text not null, raw_store_id text not null,
    load_run_id integer not null, line_number integer not null
);
create table if not exists snapshot_sources (source_id integer primary key, source text not null unique);
create table if not exists sales_snapshot_days (source_id integer not null, sale_date text not null,
    sales integer not null, digest blob not null, sale_ids blob not null, primary key (source_id, sale_date));
"""
FIELDS = ("date", "product_ref", "quantity", "store_id")
RUN_ID = 1


class Phases:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = STARTED

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._last, 3)
        self._last = now


def read(sales: Path) -> tuple[pa.Table, dict[str, int]]:
    with sales.open(encoding="utf-8-sig", newline="") as feed:
        header = next(iter(feed)).rstrip("\r\n").split(",")
    mapping = map_header(SALES, header)
    table = pcsv.read_csv(
        sales,
        read_options=pcsv.ReadOptions(column_names=[f"c{i}" for i in range(len(header))], skip_rows=1),
        convert_options=pcsv.ConvertOptions(
            column_types={f"c{i}": pa.string() for i in range(len(header))}, strings_can_be_null=False
        ),
    )
    return table.select([f"c{mapping[name]}" for name in FIELDS]).rename_columns(list(FIELDS)), mapping


def parse_distinct(table: pa.Table, sales: Path, mapping: dict[str, int]) -> dict[str, tuple]:
    """Per field: (row -> distinct index, distinct texts, parsed values of each distinct text)."""
    parsers = [parse for _column, parse in sales_parsers("iso", sales, mapping, Limits(), "utf-8")]
    parsers = dict(zip(FIELDS, parsers[: len(FIELDS)], strict=True))
    out = {}
    for name in FIELDS:
        encoded = table[name].combine_chunks().dictionary_encode()
        texts = encoded.dictionary.to_pylist()
        values = [parsers[name](text) for text in texts]  # a bad value would raise: not in this feed
        out[name] = (encoded.indices.to_numpy().astype(np.int64), texts, values)
    return out


def occurrences(fields: dict[str, tuple]) -> tuple[np.ndarray, np.ndarray]:
    """(combined code of each row's natural key, its occurrence number among equal keys, from 1)."""
    code = np.zeros(len(fields["date"][0]), dtype=np.int64)
    for name in FIELDS:
        code = code * len(fields[name][1]) + fields[name][0]
    order = np.argsort(code, kind="stable")
    ordered = code[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    position = np.arange(len(ordered))
    numbered = position - np.maximum.accumulate(np.where(starts, position, 0)) + 1
    occurrence = np.empty_like(numbered)
    occurrence[order] = numbered
    return code, occurrence


def column(values: list, indices: np.ndarray) -> pa.Array:
    return pa.array(values).take(pa.array(indices))


def snapshot_days(fields: dict[str, tuple], sale_ids: pa.Array | np.ndarray) -> list[tuple]:
    """(date, count, digest, blob) per day: the ids grouped by day in file order; text ids as
    the loader encodes them, integer keys as their packed bytes, compressed."""
    day_index = fields["date"][0]
    order = np.argsort(day_index, kind="stable")
    ids = sale_ids[order] if isinstance(sale_ids, np.ndarray) else sale_ids.take(pa.array(order)).to_pylist()
    counts = np.bincount(day_index, minlength=len(fields["date"][1]))
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    days = []
    for index in np.argsort(fields["date"][2]):  # days in date order
        day = ids[starts[index] : starts[index] + counts[index]]
        if isinstance(day, np.ndarray):
            packed = day.tobytes()
            encoded = (len(day), hashlib.blake2b(packed, digest_size=16).digest(), zlib.compress(packed, 1))
        else:
            encoded = encode_day(day)
        days.append((fields["date"][2][index], *encoded))
    return days


def store_days(con: sqlite3.Connection, days: list[tuple]) -> None:
    con.execute("insert or ignore into snapshot_sources (source) values ('bench')")
    stored = dict(con.execute("select sale_date, digest from sales_snapshot_days where source_id = 1"))
    changed = [(1, *day) for day in days if stored.get(day[0]) != day[2]]
    con.executemany("insert or replace into sales_snapshot_days values (?, ?, ?, ?, ?)", changed)


def in_statements(
    con: sqlite3.Connection, statement: Callable[[int], str], head: list, columns: list[list]
) -> int:
    """Insert rows given as columns with multi-row statements (``statement(n)`` for n rows,
    ``head`` bound first in each); returns the rows SQLite inserted."""
    width, values = len(columns), [v for row in zip(*columns, strict=True) for v in row]
    per_statement = ROWS_PER_STATEMENT * width
    full = len(values) // per_statement * per_statement
    chunks = ([*head, *values[i : i + per_statement]] for i in range(0, full, per_statement))
    inserted = con.executemany(statement(ROWS_PER_STATEMENT), chunks).rowcount
    if full < len(values):
        inserted += con.execute(statement((len(values) - full) // width), [*head, *values[full:]]).rowcount
    return inserted


def stage(con: sqlite3.Connection, staging_path: Path, rows: pa.Table, ingest: str, phases: Phases) -> None:
    """Put ``rows`` in table ``staging.staging`` of an attached file, by ADBC or by the stdlib."""
    if ingest == "adbc":
        with adbc.connect(str(staging_path)) as staging:
            staging.cursor().adbc_ingest("staging", rows, mode="create")
            staging.commit()
        con.execute(f"attach '{staging_path}' as staging")
        phases.done("ADBC ingest into the staging file")
        return
    con.execute(f"attach '{staging_path}' as staging")
    con.execute("pragma staging.journal_mode = off")
    con.execute(f"create table staging.staging ({', '.join(rows.column_names)})")
    one_row = "(" + ", ".join("?" * rows.num_columns) + ")"
    con.execute("begin")  # one transaction (a scratch file: no journal)
    in_statements(
        con,
        lambda n: f"insert into staging.staging values {', '.join([one_row] * n)}",
        [],
        [c.to_pylist() for c in rows.columns],
    )
    con.execute("commit")
    phases.done("executemany into the staging file")


def load_text(con, args, table, fields, occurrence, lines, staging_path, phases) -> tuple[int, list]:
    """Into today's raw_sales: text sale ids, staged (ADBC) or bound by the loader's own INSERT."""
    con.execute(
        "insert into loader_runs (batch_id, feed, source, started_at, status) values ('b', 'sales', 'bench', '', 'loaded')"
    )
    first = {name: [v[0] if isinstance(v, tuple) else v for v in fields[name][2]] for name in FIELDS}
    typed = {name: column(first[name], fields[name][0]) for name in FIELDS}
    keys = {
        name: column([v[1] for v in fields[name][2]], fields[name][0]) for name in ("product_ref", "store_id")
    }
    sale_id = pc.binary_join_element_wise(
        typed["date"], keys["product_ref"], keys["store_id"], pc.cast(typed["quantity"], pa.string()),
        pc.cast(pa.array(occurrence), pa.string()), "|",
    )  # fmt: skip
    phases.done("sale ids")
    days = snapshot_days(fields, sale_id)
    phases.done("snapshot encoded")
    # in loader.sales.INSERT_COLUMNS order, the run id apart
    rows = pa.table(
        [sale_id, *typed.values(), *(table[name] for name in FIELDS), pa.array(lines)],
        names=list(INSERT_COLUMNS[:-1]),
    )
    if args.ingest == "adbc":
        stage(con, staging_path, rows, "adbc", phases)
        con.execute("begin")
        inserted = con.execute(
            f"insert or ignore into raw_sales ({', '.join(INSERT_COLUMNS)}) select *, ? from staging.staging",
            (RUN_ID,),
        ).rowcount
    else:
        con.execute("begin")
        columns = [c.to_pylist() for c in rows.columns]
        phases.done("columns to Python")
        inserted = in_statements(con, insert_statement, [RUN_ID], columns)
    phases.done("insert into raw_sales")
    return inserted, days


def _hashes(texts: list[str]) -> np.ndarray:
    return np.array(
        [int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little") for t in texts],
        dtype=np.uint64,
    )


def stable_keys(fields: dict[str, tuple], occurrence: np.ndarray) -> np.ndarray:
    """The 64-bit key of each row: days since 2000-01-01 in the high bits (rows of a day stay
    together in the B-tree), below them 48 bits mixed from hashes of the product and store key
    parts, the quantity and the occurrence number. A pure function of the sale: the same sale
    gets the same key from any file (dictionary positions would not)."""
    days = np.array([np.datetime64(v, "D").astype(np.int64) for v in fields["date"][2]]) - 10957
    ref = _hashes([v[1] for v in fields["product_ref"][2]])[fields["product_ref"][0]]
    store = _hashes([v[1] for v in fields["store_id"][2]])[fields["store_id"][0]]
    quantity = np.array(fields["quantity"][2], dtype=np.int64).astype(np.uint64)[fields["quantity"][0]]
    with np.errstate(over="ignore"):  # multiplication modulo 2**64 is the point
        x = ref ^ (store * np.uint64(0x9E3779B97F4A7C15)) ^ (quantity * np.uint64(0xBF58476D1CE4E5B9))
        x ^= occurrence.astype(np.uint64) * np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)  # splitmix64's finaliser
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
    return (days[fields["date"][0]] << 48) | (x >> np.uint64(16)).astype(np.int64)


def load_integer(con, args, table, fields, occurrence, lines, staging_path, phases) -> tuple[int, list]:
    """Into the integer-keyed candidate: integers staged in key order, values joined from the
    distinct texts; two sales with one key (in the file, or a stored one) are detected."""
    key = stable_keys(fields, occurrence)
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    if (ordered[1:] == ordered[:-1]).any():
        raise SystemExit("two sales of the file share a key: a product would fall back to another key")
    phases.done("integer keys, collision check in the file")
    days = snapshot_days(fields, key)
    phases.done("snapshot encoded")
    staged = pa.table(
        {
            "k": ordered, "n": occurrence[order], "line": lines[order],
            **{name[0]: fields[name][0][order].astype(np.int32) for name in FIELDS},
        }
    )  # fmt: skip
    stage(con, staging_path, staged, args.ingest, phases)
    con.execute("begin")
    for name in FIELDS:
        con.execute(f"create temp table distinct_{name} (i integer primary key, value, raw)")
        parsed = [v[0] if isinstance(v, tuple) else v for v in fields[name][2]]
        con.executemany(
            f"insert into distinct_{name} values (?, ?, ?)",
            zip(range(len(parsed)), parsed, fields[name][1], strict=True),
        )
    joins = (
        "from staging.staging t join distinct_date d on d.i = t.d join distinct_product_ref p on p.i = t.p "
        "join distinct_quantity q on q.i = t.q join distinct_store_id s on s.i = t.s"
    )
    inserted = con.execute(
        "insert or ignore into raw_sales select t.k, t.n, d.value, p.value, q.value, s.value, "
        f"d.raw, p.raw, q.raw, s.raw, ?, t.line {joins}",
        (RUN_ID,),
    ).rowcount
    phases.done("insert into raw_sales")
    if inserted < len(key):  # rows ignored: each must be the same sale as the stored one
        collisions = con.execute(
            f"select count(*) {joins} join raw_sales r on r.sale_key = t.k where r.occurrence != t.n "
            "or r.sale_date != d.value or r.product_ref != p.value or r.quantity != q.value or r.store_id != s.value"
        ).fetchone()[0]
        if collisions:
            raise SystemExit(f"{collisions} sales share a key with another stored sale")
        phases.done("collision check against stored keys")
    return inserted, days


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--sales", type=Path, required=True)
    parser.add_argument("--layout", choices=("text", "integer"), required=True)
    parser.add_argument("--ingest", choices=("adbc", "executemany"), required=True)
    parser.add_argument("--phases", type=Path, required=True, help="where to write the seconds of each phase")
    args = parser.parse_args()
    phases = Phases()
    phases.done("imports")

    table, mapping = read(args.sales)
    phases.done("read_csv")
    fields = parse_distinct(table, args.sales, mapping)
    code, occurrence = occurrences(fields)
    phases.done("distinct values, occurrence numbers")

    con = sqlite3.connect(args.db, isolation_level=None)
    con.execute("pragma journal_mode = wal")
    con.execute("pragma synchronous = normal")
    for statement in statements(INTEGER_LAYOUT) if args.layout == "integer" else statements():
        con.execute(statement)
    lines = np.arange(2, len(code) + 2, dtype=np.int64)
    staging_path = args.db.with_name(args.db.name + ".staging")
    staging_path.unlink(missing_ok=True)
    if args.layout == "text":
        inserted, days = load_text(con, args, table, fields, occurrence, lines, staging_path, phases)
    else:
        inserted, days = load_integer(con, args, table, fields, occurrence, lines, staging_path, phases)
    store_days(con, days)
    con.execute("commit")
    phases.done("snapshot stored, commit")
    staging_path.unlink(missing_ok=True)
    if inserted not in (0, len(code)):
        raise SystemExit(f"{inserted} of {len(code)} rows inserted: a first load inserts all, a reload none")
    args.phases.write_text(json.dumps(phases.seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
