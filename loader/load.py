"""Load the client's feeds: the orchestrator, reading as the stages a feed goes through.

    fetch -> unchanged? -> header -> parse and insert -> audit

:func:`load_feeds` is the library entry point (``loader.cli`` is a thin shell around it).
Each feed is fetched (conditional GET, retries: ``loader.fetch``); a 304 or the sha256 of
the last successful load makes it "unchanged"; otherwise its header is mapped
(``loader.feeds``) and its rows parsed and inserted (``loader.sales`` or
``loader.versions``) inside one ``BEGIN IMMEDIATE`` transaction that also holds its audit
row and its rejected rows (``loader.audit``): all or nothing per feed. Any
:class:`~loader.errors.LoaderError` (or database error) fails that feed alone, with an
audit row saying why, and the next feed still runs.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .audit import (
    FeedResult,
    Rejects,
    finish_run,
    insert_run,
    last_success,
    previous_date_order,
    record_run,
    utc_now,
)
from .csvfile import choose_encoding, open_csv
from .db import transaction
from .errors import FeedError, LoaderError
from .feeds import FEEDS, FeedSpec, map_header
from .fetch import Fetched, HttpOptions, Validators, fetch
from .occurrence import DEFAULT_MAX_KEYS
from .progress import Progress
from .sales import SalesOptions, load_sales
from .sales_parser import date_order
from .snapshots import SnapshotPolicy
from .values import Limits
from .versions import load_versions


@dataclass(frozen=True)
class LoadOptions:
    force: bool = False  # no unchanged shortcut (file or day): always download, every row through the key
    date_format: str | None = None  # 'YYYY-MM-DD' | 'DD/MM/YYYY' | 'MM/DD/YYYY'; None: detect
    sales_id_column: str | None = None  # a header naming the feed's own sale id, if it has one
    http: HttpOptions = field(default_factory=HttpOptions)
    progress: bool = False  # progress bar on stderr
    occurrence_max_keys: int | None = DEFAULT_MAX_KEYS  # keys held before evicting old dates
    parallel_min_bytes: int = 8 << 20  # sales files this large are parsed in a child process
    parser_start: str | None = None  # how that child starts: None is the platform's way (fork on Linux)
    limits: Limits = field(default_factory=Limits)  # plausible values (--limit NAME=VALUE)
    debug: bool = False  # let an unexpected exception through, with its traceback
    snapshot: SnapshotPolicy = field(default_factory=SnapshotPolicy)  # edits and deletions in the sheet
    confine_to: Path | None = None  # local sources must be regular files inside this folder (--from-dir)


def load_feeds(
    con: sqlite3.Connection, sources: dict[str, str], options: LoadOptions | None = None
) -> list[FeedResult]:
    """Load each feed named in ``sources`` ({'sales': url, ...}), products and stores first."""
    options = options or LoadOptions()
    batch_id = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="ventes-loader-") as workdir:
        return [
            _load_feed(con, spec, sources[spec.name], options, batch_id, Path(workdir))
            for spec in FEEDS
            if spec.name in sources
        ]


def _load_feed(
    con: sqlite3.Connection,
    spec: FeedSpec,
    source: str,
    options: LoadOptions,
    batch_id: str,
    workdir: Path,
) -> FeedResult:
    started, started_at = time.perf_counter(), utc_now()
    result = FeedResult(feed=spec.name, source=source)
    try:
        previous = None if options.force else last_success(con, spec.name, source)
        validators = Validators(previous["etag"], previous["last_modified"]) if previous else None
        fetched = fetch(source, workdir / f"{spec.name}.csv", validators, options.http, options.confine_to)
        result.bytes, result.sha256 = fetched.size, fetched.sha256
        result.etag, result.last_modified = fetched.etag, fetched.last_modified
        if previous and (fetched.not_modified or fetched.sha256 == previous["sha256"]):
            result.status, result.sha256 = "unchanged", previous["sha256"]
            result.bytes = fetched.size or previous["bytes"]
            result.seconds = time.perf_counter() - started
            record_run(con, result, batch_id, started_at)
            return result
        if fetched.not_modified:  # a 304 to a request we did not make conditional
            raise FeedError("the server answered 304 Not Modified to an unconditional request")
        _load_body(con, spec, fetched, options, batch_id, started_at, result)
    except LoaderError as exc:
        _fail(result, str(exc))
    except sqlite3.Error as exc:
        _fail(
            result, f"database error: {exc} (is the disk full, or the warehouse file read-only or corrupt?)"
        )
    except Exception as exc:  # a bug or a fault nobody foresaw: still one audited failed feed
        if options.debug:
            raise
        _fail(
            result,
            f"unexpected {type(exc).__name__}: {str(exc)[:200]} (nothing was stored; --debug shows the traceback)",
        )
    result.seconds = time.perf_counter() - started
    if result.status == "failed":
        try:
            record_run(con, result, batch_id, started_at)
        except sqlite3.Error as exc:  # the database cannot take even the audit row (disk full...)
            result.audit_error = f"the failure could not be recorded in loader_runs: {exc}"
    return result


def _date_order(
    con: sqlite3.Connection, path: Path, column: int, result: FeedResult, options: LoadOptions
) -> str:
    """The file's date order; refused when it would re-read stored sales with the other order."""
    order = date_order(options.date_format, path, column, result.encoding or "utf-8-sig")
    before = previous_date_order(con, result.source)
    if {order, before} == {"dmy", "mdy"}:
        names = {"dmy": "DD/MM/YYYY", "mdy": "MM/DD/YYYY"}
        raise FeedError(
            f"this source's dates were read as {names[before]} until now; reading them as "
            f"{names[order]} would store its sales a second time under other dates. Pass "
            f"--date-format {names[before]}, or load the corrected file from a new URL"
        )
    return order


def _fail(result: FeedResult, error: str) -> None:
    """A failed run stored nothing: its counts are zero whatever was parsed before the error."""
    result.status, result.error, result.run_id = "failed", error, None
    result.rows_read = result.rows_inserted = result.rows_duplicate = result.rows_rejected = 0
    result.rows_retired = result.rows_aged_out = result.rows_restored = 0


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
    result.encoding = choose_encoding(fetched.path, fetched.charset, fetched.first_invalid_utf8)
    with open_csv(fetched.path, result.encoding) as feed:
        extra = (
            {"sale_id": options.sales_id_column} if not spec.versioned and options.sales_id_column else None
        )
        mapping = map_header(spec, feed.header, extra)
        if not spec.versioned:
            result.date_order = _date_order(con, fetched.path, mapping["date"], result, options)
        progress = Progress(spec.name, fetched.size, enabled=options.progress)
        try:
            with transaction(con):
                result.status = "loaded"
                result.run_id = run_id = insert_run(con, result, batch_id, started_at)
                loaded_at = utc_now()
                rejects = Rejects(con, run_id, spec.name, feed.delimiter)
                if spec.versioned:
                    counts = load_versions(
                        con,
                        spec,
                        feed,
                        mapping,
                        run_id,
                        loaded_at,
                        result.source,
                        rejects,
                        progress,
                        options.limits,
                    )
                else:
                    sales = SalesOptions(
                        result.date_order or "iso",
                        options.occurrence_max_keys,
                        options.parallel_min_bytes,
                        options.limits,
                        result.encoding,
                        options.snapshot,
                        result.source,
                        options.parser_start,
                        skip_unchanged_days=not options.force,
                    )
                    *counts, diff = load_sales(con, fetched.path, mapping, run_id, rejects, sales, progress)
                    result.rows_retired, result.rows_aged_out = diff.retired, diff.aged_out
                    result.rows_restored = diff.restored
                rejects.flush()
                result.rows_inserted, result.rows_duplicate = counts
                result.rows_rejected = rejects.count
                result.rows_read = sum((*counts, rejects.count))
                finish_run(con, result, loaded_at)
        finally:
            progress.close()
