"""Insert the sales feed: one pass of the parser, multi-row ``INSERT OR IGNORE``.

The primary key ``sale_id`` does the deduplication: a sale already stored is ignored by
SQLite, so reloading a file, or a file with lines appended, inserts only what is new. Before
that, the parser compares each day with the source's previous snapshot (loader.snapshots): a
day listed exactly as before is stored already, and its rows are not even sent (``--force``
turns that off: every row through the key, which also puts back a row deleted by hand). The
parser (``loader.sales_parser``) runs in this process, or for a large file, when two CPUs
are free to use, in a child process (``loader.forked``) that parses while this one inserts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from .audit import Rejects
from .db import savepoint
from .errors import OutOfOrder
from .feeds import SALES
from .forked import run_forked, usable_cpus
from .occurrence import OccurrenceCounter
from .progress import Progress
from .sales_parser import BATCH, DAY, FIELDS_PER_ROW, REJECT, UNCHANGED, ParseJob, parse_sales
from .snapshots import Snapshot, SnapshotDiff, SnapshotPolicy
from .values import DateOrder, Limits

ROWS_PER_STATEMENT = 64  # rows per multi-row INSERT: amortises the per-statement cost
# the order of the values parse_sales yields per row, then the run id bound once as ?1
INSERT_COLUMNS = (
    "sale_id",
    *(c.typed for c in SALES.columns),
    *(c.raw for c in SALES.columns),
    "line_number",
    "load_run_id",
)
assert len(INSERT_COLUMNS) == FIELDS_PER_ROW + 1


@dataclass(frozen=True, kw_only=True)
class SalesOptions:
    date_order: DateOrder  # loader.sales_parser.date_order
    occurrence_max_keys: int | None  # keys the occurrence counter holds before evicting old dates
    parallel_min_bytes: int  # files this large are parsed in a child process (loader.forked)
    limits: Limits  # plausible values
    encoding: str  # of the file, decided by loader.csvfile.choose_encoding
    snapshot: SnapshotPolicy  # what a line missing from the sheet means
    source: str  # the feed's URL or path: snapshots are per source
    parser_start: str | None = None  # multiprocessing start method of the parser; None: the platform's
    skip_unchanged_days: bool = True  # a day listed as in the previous snapshot is not inserted again


def insert_statement(rows: int) -> str:
    """``insert or ignore`` of ``rows`` rows; the run id is bound once, as ?1."""
    one_row = "(" + ", ".join(["?"] * FIELDS_PER_ROW) + ", ?1)"
    first = one_row.replace("?", "?2", 1)  # number the first plain ? after ?1
    values = ", ".join([first] + [one_row] * (rows - 1))
    return f"insert or ignore into {SALES.table} ({', '.join(INSERT_COLUMNS)}) values {values}"


def load_sales(
    con: sqlite3.Connection,
    path: Path,
    *,
    mapping: dict[str, int],
    run_id: int,
    rejects: Rejects,
    options: SalesOptions,
    progress: Progress,
) -> tuple[int, int, SnapshotDiff]:
    """Insert the sales, skipping ids already stored, then follow the sheet's edits
    (loader.snapshots); returns (inserted, duplicate, what the snapshot retired or restored).

    The insert runs in a savepoint: if the occurrence counter meets a file that is not in date
    order, the attempt is rolled back and the file is read again with an unbounded counter.
    """
    snapshot = Snapshot(con, options.source)

    def attempt(max_keys: int | None) -> tuple[int, int]:
        with savepoint(con, "load_sales"):
            counter = OccurrenceCounter(max_keys)
            job = ParseJob(
                path=path,
                mapping=mapping,
                order=options.date_order,
                previous=snapshot.previous_days() if options.skip_unchanged_days else {},
                head=[run_id],
                rows_per_batch=ROWS_PER_STATEMENT,
                limits=options.limits,
                encoding=options.encoding,
            )
            return _insert_sales(
                con, job, counter, rejects=rejects, snapshot=snapshot, options=options, progress=progress
            )

    try:
        inserted, duplicate = attempt(options.occurrence_max_keys)
    except OutOfOrder:
        rejects.reset()
        snapshot.reset()
        inserted, duplicate = attempt(None)  # an unbounded counter never evicts, so never raises
    return inserted, duplicate, snapshot.apply(run_id, options.snapshot)


def _insert_sales(
    con: sqlite3.Connection,
    job: ParseJob,
    counter: OccurrenceCounter,
    *,
    rejects: Rejects,
    snapshot: Snapshot,
    options: SalesOptions,
    progress: Progress,
) -> tuple[int, int]:
    """One pass over the file: parse, then insert ROWS_PER_STATEMENT rows per statement."""
    produce = partial(parse_sales, job, counter)  # a partial, not a closure: a spawned parser gets it pickled
    forked = job.path.stat().st_size >= options.parallel_min_bytes and usable_cpus() >= 2
    full = 1 + FIELDS_PER_ROW * ROWS_PER_STATEMENT
    good = 0
    tail: list = []

    def batches() -> Iterator[list]:
        nonlocal good, tail
        for kind, payload in run_forked(produce, start_method=options.parser_start) if forked else produce():
            if kind == BATCH:
                good += (len(payload) - 1) // FIELDS_PER_ROW
                if len(payload) == full:
                    yield payload
                else:
                    tail = payload
            elif kind == DAY:
                snapshot.add_day(*payload)
            elif kind == UNCHANGED:
                good += payload
            elif kind == REJECT:
                rejects.add(*payload)
            else:
                progress.update(payload)

    inserted = con.executemany(insert_statement(ROWS_PER_STATEMENT), batches()).rowcount
    if tail:
        inserted += con.execute(insert_statement((len(tail) - 1) // FIELDS_PER_ROW), tail).rowcount
    return inserted, good - inserted
