"""One load of the sales feed through a C-level path: the prototype that issue 11 asked to measure.

    python bench/c_path_worker.py --db DB --sales CSV --layout text|integer --ingest adbc|executemany --phases OUT

Run by ``bench.c_path`` in a virtualenv of its own (pyarrow, adbc-driver-sqlite, numpy: never
in requirements.txt). It does the work of a first load or of a forced reload of a well-formed,
date-ordered UTF-8 feed, vectorised, so that its time is what such a path would cost:

1. pyarrow's CSV reader reads the file (all columns as text, in C);
2. each column is dictionary-encoded and only its distinct texts go through the loader's own
   parsers (``loader.sales_parser.sales_parsers``): a feed of 1M lines has a few thousand;
3. the occurrence number of each natural key (the ``|n`` of the sale id) comes from a stable
   sort of the rows' codes (numpy);
4. the sheet's snapshot (``sales_snapshot_days``) is encoded per day;
5. the rows reach SQLite:
   - ``--layout text``: into today's ``raw_sales`` (text key, ``without rowid``), the whole file
     in memory, the sale ids joined by Arrow; by ADBC into a staging file that the load's own
     connection attaches and copies with one ``insert or ignore ... select`` (``adbc``), or by
     the loader's own multi-row INSERT fed from Arrow columns (``executemany``);
   - ``--layout integer``: into a candidate layout keyed by a 64-bit integer that is a pure
     function of the sale (the day in the high bits, a mix of hashes of the rest below), the
     file streamed in blocks (:class:`Numbering` carries the occurrence counts of the day that
     goes on), staged as integers in key order (by ADBC or the stdlib), the values joined from
     tables of distinct texts; two sales with one key, in the file or against a stored sale,
     are detected (a product would need a second key for them; here the run stops).

What a product would still need (docs/benchmarks.md): the fall-back to the row-by-row parser
for files pyarrow refuses or reads differently (other encodings, stray quotes, wrong field
counts, blank lines and quoted newlines that shift line numbers), for files not in date order
and for rows with a bad value (rejects with reasons and line numbers); the migration of
existing warehouses; the rest of the schema (snapshots, retirements, dbt) on integer keys.
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
from collections.abc import Callable, Iterator
from pathlib import Path

import adbc_driver_sqlite.dbapi as adbc
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
pa.set_memory_pool(pa.system_memory_pool())  # the default pool (mimalloc) keeps what it freed

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
BLOCK_BYTES = 1 << 20  # of the CSV text per block, streamed: 4 MiB and pyarrow's threads cost 50-80 MB


class Phases:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = STARTED

    def add(self, name: str) -> None:
        """Count the time since the last call as ``name`` (summed over the blocks of a file)."""
        now = time.perf_counter()
        self.seconds[name] = round(self.seconds.get(name, 0.0) + now - self._last, 3)
        self._last = now


def header_mapping(sales: Path) -> dict[str, int]:
    with sales.open(encoding="utf-8-sig", newline="") as feed:
        return map_header(SALES, next(iter(feed)).rstrip("\r\n").split(","))


def _csv_options(mapping: dict[str, int], block_size: int | None = None) -> dict:
    names = [f"c{i}" for i in range(max(mapping.values()) + 1)]
    read = pcsv.ReadOptions(
        column_names=names,
        skip_rows=1,
        use_threads=False,
        **({"block_size": block_size} if block_size else {}),
    )
    types = {name: pa.string() for name in names}
    convert = pcsv.ConvertOptions(column_types=types, strings_can_be_null=False)
    return {"read_options": read, "convert_options": convert}


def read(sales: Path, mapping: dict[str, int]) -> pa.Table:
    """The whole file (the text layout's variants)."""
    table = pcsv.read_csv(sales, **_csv_options(mapping))
    return table.select([f"c{mapping[name]}" for name in FIELDS]).rename_columns(list(FIELDS))


def read_blocks(sales: Path, mapping: dict[str, int]) -> Iterator[pa.RecordBatch]:
    """The file block by block (the integer layout's variants): memory follows the block."""
    reader = pcsv.open_csv(sales, **_csv_options(mapping, block_size=BLOCK_BYTES))
    for batch in reader:
        yield batch.select([f"c{mapping[name]}" for name in FIELDS]).rename_columns(list(FIELDS))


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


def occurrences(fields: dict[str, tuple]) -> np.ndarray:
    """Each row's occurrence number among the rows of its natural key, from 1."""
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
    return occurrence


def column(values: list, indices: np.ndarray) -> pa.Array:
    return pa.array(values).take(pa.array(indices))


def snapshot_days(fields: dict[str, tuple], sale_ids: pa.Array) -> list[tuple]:
    """(date, count, digest, blob) per day, as the loader encodes them: the ids grouped by day
    in file order."""
    day_index = fields["date"][0]
    ids = sale_ids.take(pa.array(np.argsort(day_index, kind="stable"))).to_pylist()
    counts = np.bincount(day_index, minlength=len(fields["date"][1]))
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    return [
        (fields["date"][2][index], *encode_day(ids[starts[index] : starts[index] + counts[index]]))
        for index in np.argsort(fields["date"][2])  # days in date order
    ]


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


def adbc_stage(con: sqlite3.Connection, staging_path: Path, rows: pa.Table, phases: Phases) -> None:
    """Put ``rows`` in table ``staging.staging`` of a file ADBC writes, attached to ``con``."""
    with adbc.connect(str(staging_path)) as staging:
        staging.cursor().adbc_ingest("staging", rows, mode="create")
        staging.commit()
    con.execute(f"attach '{staging_path}' as staging")
    phases.add("ADBC ingest into the staging file")


def staging_insert(width: int) -> Callable[[int], str]:
    """The multi-row INSERT into staging.staging of n rows of ``width`` values."""
    one_row = "(" + ", ".join("?" * width) + ")"
    return lambda n: f"insert into staging.staging values {', '.join([one_row] * n)}"


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
    phases.add("sale ids")
    days = snapshot_days(fields, sale_id)
    phases.add("snapshot encoded")
    # in loader.sales.INSERT_COLUMNS order, the run id apart
    rows = pa.table(
        [sale_id, *typed.values(), *(table[name] for name in FIELDS), pa.array(lines)],
        names=list(INSERT_COLUMNS[:-1]),
    )
    if args.ingest == "adbc":
        adbc_stage(con, staging_path, rows, phases)
        con.execute("begin")
        inserted = con.execute(
            f"insert or ignore into raw_sales ({', '.join(INSERT_COLUMNS)}) select *, ? from staging.staging",
            (RUN_ID,),
        ).rowcount
    else:
        con.execute("begin")
        columns = [c.to_pylist() for c in rows.columns]
        phases.add("columns to Python")
        inserted = in_statements(con, insert_statement, [RUN_ID], columns)
    phases.add("insert into raw_sales")
    return inserted, days


def _hashes(texts: list[str]) -> np.ndarray:
    return np.array(
        [int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little") for t in texts],
        dtype=np.uint64,
    )


class Distinct:
    """One field's distinct texts across the whole file: a global index each (stable from block
    to block), the parsed value, and for key fields a 64-bit hash of the key part."""

    def __init__(self, parse: Callable[[str], object]):
        self.parse, self.index, self.texts, self.values = parse, {}, [], []
        self.hashes = np.zeros(0, dtype=np.uint64)
        self.day_numbers = np.zeros(0, dtype=np.int64)

    def encode(self, array: pa.Array, kind: str) -> np.ndarray:
        """The global index of each row's text; new texts are parsed (a bad one would raise)."""
        encoded = array.dictionary_encode()
        new = [t for t in encoded.dictionary.to_pylist() if t not in self.index]
        for text in new:
            self.index[text] = len(self.texts)
            self.texts.append(text)
            self.values.append(self.parse(text))
        if new and kind == "key":
            self.hashes = np.r_[self.hashes, _hashes([v[1] for v in self.values[-len(new) :]])]
        elif new and kind == "date":  # days since 2000-01-01
            days = [np.datetime64(v, "D").astype(np.int64) - 10957 for v in self.values[-len(new) :]]
            self.day_numbers = np.r_[self.day_numbers, np.array(days, dtype=np.int64)]
        local = np.array([self.index[t] for t in encoded.dictionary.to_pylist()], dtype=np.int64)
        return local[encoded.indices.to_numpy()]

    def typed(self) -> list:
        return [v[0] if isinstance(v, tuple) else v for v in self.values]


def mixed(ref: np.ndarray, store: np.ndarray, quantity: np.ndarray, occurrence: np.ndarray) -> np.ndarray:
    """48 bits mixed from the hashes, the quantity and the occurrence number (splitmix64's finaliser)."""
    with np.errstate(over="ignore"):  # multiplication modulo 2**64 is the point
        x = ref ^ (store * np.uint64(0x9E3779B97F4A7C15)) ^ (quantity * np.uint64(0xBF58476D1CE4E5B9))
        x ^= occurrence.astype(np.uint64) * np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
    return (x >> np.uint64(16)).astype(np.int64)


class Numbering:
    """Occurrence numbers across blocks of a date-ordered file: only the latest day's counts are
    carried from one block to the next (its natural keys may go on), so memory follows a day."""

    def __init__(self) -> None:
        self.day = -1
        self.identities = np.zeros(0, dtype=np.int64)  # sorted, of the carried day
        self.counts = np.zeros(0, dtype=np.int64)

    def number(self, day: np.ndarray, identity: np.ndarray) -> np.ndarray:
        if day.min() < self.day:
            raise SystemExit("the file is not in date order: a product would fall back to the row parser")
        order = np.lexsort((identity, day))
        d, i = day[order], identity[order]
        starts = np.r_[True, (d[1:] != d[:-1]) | (i[1:] != i[:-1])]
        position = np.arange(len(order))
        numbered = position - np.maximum.accumulate(np.where(starts, position, 0)) + 1
        carried = d == self.day
        if carried.any() and len(self.identities):
            found = np.searchsorted(self.identities, i[carried])
            found = np.minimum(found, len(self.identities) - 1)
            base = np.where(self.identities[found] == i[carried], self.counts[found], 0)
            numbered[carried] += base
        last = d == d[-1]  # the latest day goes on in the next block: carry its final counts
        ends = np.r_[starts[1:], True] & last
        identities, counts = i[ends], numbered[ends]
        if int(d[-1]) == self.day:  # a day over several blocks: keep the keys this block lacked
            identities, counts = np.r_[self.identities, identities], np.r_[self.counts, counts]
            by_identity = np.lexsort((counts, identities))
            identities, counts = identities[by_identity], counts[by_identity]
            highest = np.r_[identities[1:] != identities[:-1], True]
            identities, counts = identities[highest], counts[highest]
        self.day, self.identities, self.counts = int(d[-1]), identities, counts
        occurrence = np.empty_like(numbered)
        occurrence[order] = numbered
        return occurrence


class DayKeys:
    """The keys of the snapshot, by day: days before the latest one are finished and stored."""

    def __init__(self) -> None:
        self.open_day, self.open_keys = -1, []

    def add(self, day: np.ndarray, keys: np.ndarray, dates: list[str], date_days: np.ndarray) -> list[tuple]:
        order = np.argsort(day, kind="stable")
        d, k = day[order], keys[order]
        bounds = np.flatnonzero(np.r_[True, d[1:] != d[:-1], True])
        finished = []
        for start, end in zip(bounds[:-1], bounds[1:], strict=True):
            if int(d[start]) != self.open_day and self.open_keys:
                finished.append(self._encode(dates, date_days))
            self.open_day = int(d[start])
            self.open_keys.append(k[start:end])
        return finished

    def close(self, dates: list[str], date_days: np.ndarray) -> list[tuple]:
        return [self._encode(dates, date_days)] if self.open_keys else []

    def _encode(self, dates: list[str], date_days: np.ndarray) -> tuple:
        packed = np.concatenate(self.open_keys).tobytes()
        self.open_keys = []
        date = dates[int(np.flatnonzero(date_days == self.open_day)[0])]
        count = len(packed) // 8
        return date, count, hashlib.blake2b(packed, digest_size=16).digest(), zlib.compress(packed, 1)


def load_integer(con, args, sales, mapping, staging_path, phases) -> tuple[int, int]:
    """Into the integer-keyed candidate, streamed in blocks: per block, keys and occurrence
    numbers computed on whole columns, rows staged as integers in key order, finished days of
    the snapshot stored; at the end one insert from the staging file, values joined from the
    distinct texts. Two sales with one key (in the file, or a stored one) are detected."""
    parsers = [parse for _column, parse in sales_parsers("iso", sales, mapping, Limits(), "utf-8")]
    distinct = {name: Distinct(parse) for name, parse in zip(FIELDS, parsers[: len(FIELDS)], strict=True)}
    kinds = {"date": "date", "product_ref": "key", "quantity": "value", "store_id": "key"}
    numbering, day_keys = Numbering(), DayKeys()
    boundary_keys = np.zeros(0, dtype=np.int64)  # keys of the latest day, for the in-file check
    previous_day = -1
    con.execute(f"attach '{staging_path}' as staging")
    con.execute("pragma staging.journal_mode = off")
    con.execute("create table staging.staging (k, n, line, d, p, q, s)")
    con.execute("begin")
    con.execute("insert or ignore into snapshot_sources (source) values ('bench')")
    adbc_con = adbc.connect(str(staging_path)) if args.ingest == "adbc" else None
    adbc_cursor = adbc_con.cursor() if adbc_con is not None else None  # one: each holds its last batch
    rows = 0
    for batch in read_blocks(sales, mapping):
        phases.add("read_csv (blocks)")
        g = {name: distinct[name].encode(batch.column(name), kinds[name]) for name in FIELDS}
        day = distinct["date"].day_numbers[g["date"]]
        sizes = [len(distinct[name].texts) for name in ("product_ref", "store_id", "quantity")]
        if sizes[0] >= 1 << 27 or sizes[1] >= 1 << 16 or sizes[2] >= 1 << 20:
            raise SystemExit("too many distinct values for the identity: a product would fall back")
        identity = (g["product_ref"] << 36) | (g["store_id"] << 20) | g["quantity"]
        occurrence = numbering.number(day, identity)
        quantities = np.array(distinct["quantity"].typed(), dtype=np.int64).astype(np.uint64)
        low = mixed(
            distinct["product_ref"].hashes[g["product_ref"]], distinct["store_id"].hashes[g["store_id"]],
            quantities[g["quantity"]], occurrence,
        )  # fmt: skip
        key = (day << 48) | low
        order = np.argsort(key, kind="stable")
        ordered = key[order]
        if (ordered[1:] == ordered[:-1]).any() or np.isin(ordered, boundary_keys).any():
            raise SystemExit("two sales of the file share a key: a product would fall back to another key")
        latest_day = int(day.max())  # its keys may meet the next block's: keep them, and only them
        latest = key[day == latest_day]
        boundary_keys = np.r_[boundary_keys, latest] if latest_day == previous_day else latest
        previous_day = latest_day
        phases.add("distinct values, occurrence numbers, keys")
        store_days(con, day_keys.add(day, key, distinct["date"].values, distinct["date"].day_numbers))
        phases.add("snapshot encoded and stored")
        staged = pa.table(
            {
                "k": ordered, "n": occurrence[order], "line": np.arange(rows + 2, rows + 2 + len(key))[order],
                **{name[0]: g[name][order] for name in FIELDS},
            }
        )  # fmt: skip
        rows += len(key)
        if adbc_cursor is not None:
            adbc_cursor.adbc_ingest("staging", staged, mode="append")
            phases.add("ADBC ingest into the staging file")
        else:
            in_statements(
                con, staging_insert(staged.num_columns), [], [c.to_pylist() for c in staged.columns]
            )
            phases.add("executemany into the staging file")
    if adbc_con is not None:
        adbc_con.commit()
        adbc_cursor.close()
        adbc_con.close()
    store_days(con, day_keys.close(distinct["date"].values, distinct["date"].day_numbers))
    for name in FIELDS:
        con.execute(f"create temp table distinct_{name} (i integer primary key, value, raw)")
        con.executemany(
            f"insert into distinct_{name} values (?, ?, ?)",
            zip(range(len(distinct[name].texts)), distinct[name].typed(), distinct[name].texts, strict=True),
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
    phases.add("insert into raw_sales")
    if inserted < rows:  # rows ignored: each must be the same sale as the stored one
        collisions = con.execute(
            f"select count(*) {joins} join raw_sales r on r.sale_key = t.k where r.occurrence != t.n "
            "or r.sale_date != d.value or r.product_ref != p.value or r.quantity != q.value or r.store_id != s.value"
        ).fetchone()[0]
        if collisions:
            raise SystemExit(f"{collisions} sales share a key with another stored sale")
        phases.add("collision check against stored keys")
    return inserted, rows


def open_warehouse(db: Path, ddl: list[str]) -> sqlite3.Connection:
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("pragma journal_mode = wal")
    con.execute("pragma synchronous = normal")
    for statement in ddl:
        con.execute(statement)
    return con


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--sales", type=Path, required=True)
    parser.add_argument("--layout", choices=("text", "integer"), required=True)
    parser.add_argument("--ingest", choices=("adbc", "executemany"), required=True)
    parser.add_argument("--phases", type=Path, required=True, help="where to write the seconds of each phase")
    args = parser.parse_args()
    phases = Phases()
    phases.add("imports")
    mapping = header_mapping(args.sales)
    staging_path = args.db.with_name(args.db.name + ".staging")
    staging_path.unlink(missing_ok=True)

    if args.layout == "integer":
        con = open_warehouse(args.db, statements(INTEGER_LAYOUT))
        inserted, rows = load_integer(con, args, args.sales, mapping, staging_path, phases)
    else:
        table = read(args.sales, mapping)
        phases.add("read_csv")
        fields = parse_distinct(table, args.sales, mapping)
        occurrence = occurrences(fields)
        phases.add("distinct values, occurrence numbers")
        con = open_warehouse(args.db, statements())
        rows = table.num_rows
        lines = np.arange(2, rows + 2, dtype=np.int64)
        inserted, days = load_text(con, args, table, fields, occurrence, lines, staging_path, phases)
        store_days(con, days)
    con.execute("commit")
    phases.add("snapshot stored, commit")
    staging_path.unlink(missing_ok=True)
    if inserted not in (0, rows):
        raise SystemExit(f"{inserted} of {rows} rows inserted: a first load inserts all, a reload none")
    args.phases.write_text(json.dumps(phases.seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
