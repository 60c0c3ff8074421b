"""Load one feed into its raw_ table: exactly once, in one transaction, never losing a row.

The library entry point is :func:`load_feeds`; the CLI in ``loader.cli`` is a thin shell
around it. Each feed goes through: fetch (conditional GET, retries) -> unchanged
shortcut (304 or same sha256 as the last successful load) -> header check -> parse and
insert inside one ``BEGIN IMMEDIATE`` transaction, with the audit row in
``loader_runs`` and the bad rows in ``loader_rejects`` committed together with the data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .csvfile import CsvFeed, NotCsvError, format_line, open_csv
from .errors import FeedError
from .feeds import FEEDS, PRODUCTS, SALES, STORES, FeedSpec, HeaderError, map_header
from .fetch import Fetched, FetchError, HttpOptions, Validators, fetch
from .forked import run_forked
from .occurrence import OccurrenceCounter, OutOfOrder
from .progress import Progress
from .sales import BATCH, FIELDS_PER_ROW, REJECT, field_count_problem, parse_sales
from .values import InvalidValue, parse_count, parse_decimal, parse_identifier, parse_text

ROWS_PER_STATEMENT = 64  # rows per multi-row INSERT: amortises the per-statement cost
REJECT_FLUSH = 10_000


@dataclass(frozen=True)
class LoadOptions:
    force: bool = False  # skip the unchanged shortcut: always download and go through dedup
    date_format: str | None = None  # 'YYYY-MM-DD' | 'DD/MM/YYYY' | 'MM/DD/YYYY'; None: detect
    sales_id_column: str | None = None  # a header naming the feed's own sale id, if it has one
    http: HttpOptions = field(default_factory=HttpOptions)
    progress: bool = False  # progress bar on stderr
    occurrence_max_keys: int | None = 500_000  # keys held before evicting old dates
    parallel_min_bytes: int = 8 << 20  # sales files this large are parsed in a forked process


@dataclass
class FeedResult:
    feed: str
    source: str
    status: str = "failed"  # loaded | unchanged | failed
    run_id: int | None = None
    rows_read: int = 0
    rows_inserted: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    bytes: int = 0
    sha256: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Run:
    run_id: int
    loaded_at: str
    source: str


def utc_now() -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-28T21:04:00.123Z (SQLite parses it)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def load_feeds(
    con: sqlite3.Connection, sources: dict[str, str], options: LoadOptions | None = None
) -> list[FeedResult]:
    """Load each feed named in ``sources`` ({'sales': url, ...}), products and stores first."""
    options = options or LoadOptions()
    batch_id = uuid.uuid4().hex
    results = []
    with tempfile.TemporaryDirectory(prefix="ventes-loader-") as workdir:
        for spec in FEEDS:
            if spec.name in sources:
                results.append(load_feed(con, spec, sources[spec.name], options, batch_id, Path(workdir)))
    return results


def load_feed(
    con: sqlite3.Connection,
    spec: FeedSpec,
    source: str,
    options: LoadOptions,
    batch_id: str,
    workdir: Path,
) -> FeedResult:
    started = time.perf_counter()
    started_at = utc_now()
    result = FeedResult(feed=spec.name, source=source)
    try:
        previous = None if options.force else _last_success(con, spec, source)
        fetched = fetch(
            source,
            workdir / f"{spec.name}.csv",
            Validators(previous["etag"], previous["last_modified"]) if previous else None,
            options.http,
        )
        result.bytes, result.sha256 = fetched.size, fetched.sha256
        result.etag, result.last_modified = fetched.etag, fetched.last_modified
        if previous and (fetched.not_modified or fetched.sha256 == previous["sha256"]):
            result.status = "unchanged"
            result.sha256 = previous["sha256"]
            result.bytes = fetched.size or previous["bytes"]
            result.seconds = time.perf_counter() - started
            _record_run(con, result, batch_id, started_at)
            return result
        if fetched.not_modified:  # a 304 to a request we did not make conditional
            raise FeedError("the server answered 304 Not Modified to an unconditional request")
        _load_body(con, spec, fetched, options, batch_id, started_at, result)
        result.status = "loaded"
    except (FetchError, FeedError, HeaderError, NotCsvError) as exc:
        result.error = str(exc)
    except sqlite3.Error as exc:
        result.error = f"database error: {exc} (is the warehouse file writable and not corrupt?)"
    except ChildProcessError as exc:
        result.error = f"{exc}: was it killed for lack of memory? Nothing was stored; run the loader again"
    result.seconds = time.perf_counter() - started
    if result.status == "failed":
        result.rows_read = result.rows_inserted = result.rows_duplicate = result.rows_rejected = 0
        _record_run(con, result, batch_id, started_at)
    return result


def _last_success(con: sqlite3.Connection, spec: FeedSpec, source: str) -> sqlite3.Row | None:
    con.row_factory = sqlite3.Row
    try:
        return con.execute(
            "select sha256, etag, last_modified, bytes from loader_runs "
            "where feed = ? and source = ? and status in ('loaded', 'unchanged') "
            "order by run_id desc limit 1",
            (spec.name, source),
        ).fetchone()
    finally:
        con.row_factory = None


def _record_run(con: sqlite3.Connection, result: FeedResult, batch_id: str, started_at: str) -> None:
    """Write the audit row of a run that changed no data (unchanged or failed)."""
    con.execute("begin immediate")
    try:
        result.run_id = _insert_run(con, result, batch_id, started_at)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _insert_run(con: sqlite3.Connection, result: FeedResult, batch_id: str, started_at: str) -> int:
    cur = con.execute(
        "insert into loader_runs (batch_id, feed, source, started_at, finished_at, status, rows_read, "
        "rows_inserted, rows_duplicate, rows_rejected, bytes, sha256, etag, last_modified, error) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            batch_id,
            result.feed,
            result.source,
            started_at,
            utc_now(),
            result.status,
            result.rows_read,
            result.rows_inserted,
            result.rows_duplicate,
            result.rows_rejected,
            result.bytes,
            result.sha256,
            result.etag,
            result.last_modified,
            result.error,
        ),
    )
    return int(cur.lastrowid)


def _load_body(
    con: sqlite3.Connection,
    spec: FeedSpec,
    fetched: Fetched,
    options: LoadOptions,
    batch_id: str,
    started_at: str,
    result: FeedResult,
) -> None:
    """Parse and insert the feed in one transaction, audit row included: all or nothing."""
    assert fetched.path is not None
    with open_csv(fetched.path) as feed:
        extra = {"sale_id": options.sales_id_column} if spec is SALES and options.sales_id_column else None
        mapping = map_header(spec, feed.header, extra)
        progress = Progress(spec.name, fetched.size, enabled=options.progress)
        con.execute("begin immediate")
        try:
            result.status = "loaded"
            result.run_id = _insert_run(con, result, batch_id, started_at)
            run = _Run(result.run_id, utc_now(), result.source)
            rejects = _Rejects(con, run.run_id, spec.name, feed.delimiter)
            if spec is SALES:
                counts = _load_sales(con, fetched.path, mapping, run, rejects, options, progress)
            else:
                counts = _load_versions(con, spec, feed, mapping, run, rejects, progress)
            rejects.flush()
            result.rows_inserted, result.rows_duplicate = counts
            result.rows_rejected = rejects.count
            result.rows_read = result.rows_inserted + result.rows_duplicate + result.rows_rejected
            con.execute(
                "update loader_runs set finished_at = ?, loaded_at = ?, rows_read = ?, rows_inserted = ?, "
                "rows_duplicate = ?, rows_rejected = ? where run_id = ?",
                (
                    utc_now(),
                    run.loaded_at,
                    result.rows_read,
                    result.rows_inserted,
                    result.rows_duplicate,
                    result.rows_rejected,
                    result.run_id,
                ),
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            result.status = "failed"
            result.run_id = None
            raise
        finally:
            progress.close()


class _Rejects:
    """Collects bad rows and writes them to loader_rejects in batches, inside the load's transaction."""

    def __init__(self, con: sqlite3.Connection, run_id: int, feed: str, delimiter: str):
        self._con, self._run_id, self._feed, self._delimiter = con, run_id, feed, delimiter
        self._pending: list[tuple] = []
        self.count = 0

    def add(self, line_number: int, fields: list[str], reason: str) -> None:
        self._pending.append(
            (self._run_id, self._feed, line_number, format_line(fields, self._delimiter), reason)
        )
        self.count += 1
        if len(self._pending) >= REJECT_FLUSH:
            self.flush()

    def reset(self) -> None:
        """Forget everything (after a rollback of the rows already flushed)."""
        self._pending.clear()
        self.count = 0

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            self._con.executemany(
                "insert into loader_rejects (run_id, feed, line_number, raw_line, reason) values (?, ?, ?, ?, ?)",
                pending,
            )


def _load_sales(
    con: sqlite3.Connection,
    path: Path,
    mapping: dict[str, int],
    run: _Run,
    rejects: _Rejects,
    options: LoadOptions,
    progress: Progress,
) -> tuple[int, int]:
    """Insert the sales, skipping ids already stored; returns (inserted, duplicate).

    Runs in a savepoint: if the occurrence counter meets a file that is not in date order,
    the attempt is rolled back and the file is read again with an unbounded counter.
    """
    con.execute("savepoint load_sales")
    try:
        try:
            counts = _insert_sales(
                con,
                path,
                mapping,
                run,
                rejects,
                options,
                progress,
                OccurrenceCounter(options.occurrence_max_keys),
            )
        except OutOfOrder:
            con.execute("rollback to load_sales")
            rejects.reset()
            counts = _insert_sales(
                con, path, mapping, run, rejects, options, progress, OccurrenceCounter(None)
            )
    except BaseException:
        con.execute("rollback to load_sales")
        con.execute("release load_sales")
        raise
    con.execute("release load_sales")
    return counts


def _insert_sales(
    con: sqlite3.Connection,
    path: Path,
    mapping: dict[str, int],
    run: _Run,
    rejects: _Rejects,
    options: LoadOptions,
    progress: Progress,
    counter: OccurrenceCounter,
) -> tuple[int, int]:
    """One pass over the file: parse, then multi-row INSERT OR IGNORE; the primary key dedups.

    Rows go ROWS_PER_STATEMENT at a time: per-statement overhead is what dominates. A large
    file is parsed in a forked process (loader.forked) while this one inserts.
    """
    columns = (
        "sale_id, sale_date, product_ref, store_id, quantity, "
        "raw_date, raw_product_ref, raw_quantity, raw_store_id, line_number, load_run_id"
    )
    one_row = "(" + ", ".join(["?"] * FIELDS_PER_ROW) + ", ?1)"

    def statement(rows: int) -> str:
        first = one_row.replace("?", "?2", 1)  # number the first plain ? after ?1
        return f"insert or ignore into raw_sales ({columns}) values {', '.join([first] + [one_row] * (rows - 1))}"

    def produce() -> Iterator[tuple[int, object]]:
        return parse_sales(path, mapping, options.date_format, counter, [run.run_id], ROWS_PER_STATEMENT)

    forked = path.stat().st_size >= options.parallel_min_bytes
    full = 1 + FIELDS_PER_ROW * ROWS_PER_STATEMENT
    good = 0
    tail: list = []

    def batches() -> Iterator[list]:
        nonlocal good, tail
        for kind, payload in run_forked(produce) if forked else produce():
            if kind == BATCH:
                good += (len(payload) - 1) // FIELDS_PER_ROW
                if len(payload) == full:
                    yield payload
                else:
                    tail = payload
            elif kind == REJECT:
                rejects.add(*payload)
            else:
                progress.update(payload)

    inserted = con.executemany(statement(ROWS_PER_STATEMENT), batches()).rowcount
    if tail:
        inserted += con.execute(statement((len(tail) - 1) // FIELDS_PER_ROW), tail).rowcount
    return inserted, good - inserted


@dataclass(frozen=True)
class _VersionedTable:
    """How a slowly changing feed (products, stores) maps to its versioned raw_ table."""

    key: str  # field holding the business key
    fields: tuple[tuple[str, str, Callable[[str], object]], ...]  # (field, typed column, parser)
    # the received text of each field lands in raw_<field>


_VERSIONED = {
    PRODUCTS.name: _VersionedTable(
        key="product_ref",
        fields=(
            ("product_ref", "product_ref", lambda t: parse_text(t, "product reference")),
            ("name", "product_name", lambda t: parse_text(t, "product name")),
            ("price", "price", parse_decimal),
            ("stock", "stock", lambda t: parse_count(t, "stock", 0)),
        ),
    ),
    STORES.name: _VersionedTable(
        key="store_id",
        fields=(
            ("store_id", "store_id", lambda t: parse_identifier(t, "store id")),
            ("city", "city", lambda t: parse_text(t, "city")),
            ("employees", "employees", lambda t: parse_count(t, "employees", 0)),
        ),
    ),
}


def _load_versions(
    con: sqlite3.Connection,
    spec: FeedSpec,
    feed: CsvFeed,
    mapping: dict[str, int],
    run: _Run,
    rejects: _Rejects,
    progress: Progress,
) -> tuple[int, int]:
    """Append a new version of each product/store whose content changed; (inserted, duplicate).

    A key listed twice in one file with different content is ambiguous: the later line is
    rejected. The comparison is with the latest stored version of the key, so A -> B -> A
    stores three versions and an unchanged feed stores nothing.
    """
    table = _VERSIONED[spec.name]
    width = len(feed.header)
    seen: dict[str, tuple[str, int]] = {}  # key -> (content hash, line)
    new_rows: list[tuple] = []
    duplicates = 0
    for row in feed.rows:
        line = feed.line_num
        if len(row) != width:
            if not any(cell.strip() for cell in row):
                continue
            problem = field_count_problem(row, width)
            if problem:
                rejects.add(line, row, problem)
                continue
        typed = {}
        try:
            for name, _column, parse in table.fields:
                typed[name] = parse(row[mapping[name]])
        except InvalidValue as exc:
            rejects.add(line, row, str(exc))
            continue
        key = typed[table.key]
        digest = hashlib.sha256(
            "\x1f".join(repr(typed[name]) for name, _c, _p in table.fields).encode()
        ).hexdigest()
        if key in seen:
            first_hash, first_line = seen[key]
            if first_hash == digest:
                duplicates += 1
            else:
                rejects.add(
                    line,
                    row,
                    f"{table.key} {key!r} listed twice with different values (first on line {first_line})",
                )
            continue
        seen[key] = (digest, line)
        raw = [row[mapping[name]] for name, _c, _p in table.fields]
        new_rows.append((*typed.values(), digest, *raw, line))
    progress.update(feed.progress.bytes_read)

    latest = dict(
        con.execute(
            f"select {table.key}, content_hash from {spec.table} as v where version_id = "
            f"(select max(version_id) from {spec.table} where {table.key} = v.{table.key})"
        ).fetchall()
    )
    changed = [r for r in new_rows if latest.get(r[0]) != r[len(table.fields)]]
    typed_columns = [column for _n, column, _p in table.fields]
    raw_columns = [f"raw_{name}" for name, _c, _p in table.fields]
    columns = [
        *typed_columns,
        "content_hash",
        *raw_columns,
        "line_number",
        "load_run_id",
        "loaded_at",
        "source",
    ]
    placeholders = ", ".join(["?"] * len(columns))
    con.executemany(
        f"insert into {spec.table} ({', '.join(columns)}) values ({placeholders})",
        [(*r, run.run_id, run.loaded_at, run.source) for r in changed],
    )
    return len(changed), duplicates + len(new_rows) - len(changed)
