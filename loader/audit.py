"""The audit trail: one ``loader_runs`` row per feed per invocation, and the rejected rows.

A run that changes data writes its audit row inside the data's own transaction, so the
row exists if and only if the data does. A run that changes nothing (unchanged, failed)
writes its row alone with :func:`record_run`. Rejected rows go to ``loader_rejects`` in
batches, inside the load's transaction: a rolled-back load leaves no orphan rejects.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import asdict, dataclass
from typing import Literal

from .csvfile import format_line
from .db import transaction

RunStatus = Literal["loaded", "unchanged", "failed"]
REJECT_FLUSH = 10_000  # rejects held in memory before they are written

_RUN_COLUMNS = (
    "batch_id",
    "feed",
    "source",
    "started_at",
    "finished_at",
    "status",
    "rows_read",
    "rows_inserted",
    "rows_duplicate",
    "rows_rejected",
    "bytes",
    "sha256",
    "etag",
    "last_modified",
    "error",
    "encoding",
    "date_order",
)


@dataclass
class FeedResult:
    """What happened to one feed: printed by the CLI, stored in loader_runs."""

    feed: str
    source: str
    status: RunStatus = "failed"
    run_id: int | None = None
    rows_read: int = 0
    rows_inserted: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    rows_retired: int = 0
    rows_aged_out: int = 0
    rows_restored: int = 0
    bytes: int = 0
    sha256: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    seconds: float = 0.0
    error: str | None = None
    encoding: str | None = None  # how the body was decoded
    date_order: str | None = None  # sales: iso, dmy or mdy
    audit_error: str | None = None  # why the loader_runs row could not be written, if it could not

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def to_dict(self) -> dict:
        return asdict(self)


def next_loaded_at(con: sqlite3.Connection) -> str:
    """The load time of a run: now, or 1 ms after the newest load time of the warehouse when the
    clock stands behind it (it stepped back, or another machine loaded with a clock ahead).

    Which price was in effect when a sale was loaded is decided by comparing load times: a time
    going backwards would price a sale with a version loaded "after" it, and an incremental build
    would disagree with a full refresh. Called inside the load's transaction (one writer at a
    time), so load times only go forward within a warehouse.
    """
    now = utc_now()
    newest = con.execute("select max(loaded_at) from loader_runs").fetchone()[0]
    if newest is None or now > newest:
        return now
    return utc_stamp(dt.datetime.fromisoformat(newest) + dt.timedelta(milliseconds=1))


def utc_now() -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-28T21:04:00.123Z (SQLite parses it)."""
    return utc_stamp(dt.datetime.now(dt.UTC))


def utc_stamp(when: dt.datetime) -> str:
    """``when`` (aware, UTC) as the loader stores times: 2026-11-28T21:04:00.123Z."""
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def last_success(con: sqlite3.Connection, feed: str, source: str) -> dict | None:
    """sha256, etag, last_modified and bytes of the last good run of this feed and source."""
    row = con.execute(
        "select sha256, etag, last_modified, bytes from loader_runs "
        "where feed = ? and source = ? and status in ('loaded', 'unchanged') "
        "order by run_id desc limit 1",
        (feed, source),
    ).fetchone()
    return dict(zip(("sha256", "etag", "last_modified", "bytes"), row, strict=True)) if row else None


def previous_date_order(con: sqlite3.Connection, source: str) -> str | None:
    """How the last loaded sales run of ``source`` read its dates (None: never loaded)."""
    row = con.execute(
        "select date_order from loader_runs where feed = 'sales' and source = ? and status = 'loaded' "
        "and date_order is not null order by run_id desc limit 1",
        (source,),
    ).fetchone()
    return row[0] if row else None


def insert_run(con: sqlite3.Connection, result: FeedResult, batch_id: str, started_at: str) -> int:
    """Insert the run's row inside the caller's transaction; returns its run_id."""
    values = {**result.to_dict(), "batch_id": batch_id, "started_at": started_at, "finished_at": utc_now()}
    placeholders = ", ".join("?" * len(_RUN_COLUMNS))
    cur = con.execute(
        f"insert into loader_runs ({', '.join(_RUN_COLUMNS)}) values ({placeholders})",
        [values[c] for c in _RUN_COLUMNS],
    )
    return int(cur.lastrowid)


def finish_run(con: sqlite3.Connection, result: FeedResult, loaded_at: str) -> None:
    """Write the final counts of a loading run, inside its transaction."""
    con.execute(
        "update loader_runs set finished_at = ?, loaded_at = ?, rows_read = ?, rows_inserted = ?, "
        "rows_duplicate = ?, rows_rejected = ?, rows_retired = ?, rows_aged_out = ?, rows_restored = ? "
        "where run_id = ?",
        (
            utc_now(),
            loaded_at,
            result.rows_read,
            result.rows_inserted,
            result.rows_duplicate,
            result.rows_rejected,
            result.rows_retired,
            result.rows_aged_out,
            result.rows_restored,
            result.run_id,
        ),
    )


def record_run(con: sqlite3.Connection, result: FeedResult, batch_id: str, started_at: str) -> None:
    """Write the audit row of a run that changed no data (unchanged or failed)."""
    with transaction(con):
        result.run_id = insert_run(con, result, batch_id, started_at)


class Rejects:
    """Collects bad rows and writes them to loader_rejects in batches, inside the load's transaction."""

    def __init__(self, con: sqlite3.Connection, run_id: int, feed: str, delimiter: str):
        self._con, self._run_id, self._feed, self._delimiter = con, run_id, feed, delimiter
        self._pending: list[tuple] = []
        self.count = 0

    def add(self, line_number: int, fields: list[str], reason: str) -> None:
        if any("\n" in field for field in fields):
            reason += " (several lines were read as one field: a quote opened and never closed?)"
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
