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

import dataclasses
import datetime as dt
import json
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .archive import Archive, Entry
from .audit import (
    FeedResult,
    Rejects,
    finish_run,
    insert_run,
    last_success,
    next_loaded_at,
    previous_date_order,
    record_run,
    utc_now,
)
from .csvfile import choose_encoding, open_csv, refuse_nul
from .db import transaction
from .errors import ArchiveError, FeedError, LoaderError
from .feeds import FEEDS, FeedSpec, map_header
from .fetch import Fetched, HttpOptions, Validators, fetch, source_identity
from .occurrence import DEFAULT_MAX_KEYS
from .parquet import Landing
from .progress import Progress
from .sales import SalesOptions, load_sales
from .sales_parser import date_order
from .snapshots import SnapshotPolicy
from .values import DATE_FORMATS, Limits
from .versions import load_versions


@dataclass(frozen=True, kw_only=True)
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
    # the feeds confine_to applies to (None: every feed); a feed's own flag (--sales PATH) is the
    # operator's choice and is not confined (loader.cli.resolve_sources)
    confined: frozenset[str] | None = None
    archive: Path | None = None  # the landing archive's folder (loader.archive); None: no archive
    parquet: Path | None = None  # the Parquet landing's folder (loader.parquet); None: no landing


def load_feeds(
    con: sqlite3.Connection, sources: dict[str, str], options: LoadOptions | None = None
) -> list[FeedResult]:
    """Load each feed named in ``sources`` ({'sales': url, ...}), products and stores first."""
    options = options or LoadOptions()
    batch_id = uuid.uuid4().hex
    if options.archive is not None:  # journal lines a crash after a commit left unwritten
        Archive(options.archive).catch_up(con)
    remove_abandoned_workdirs()
    with tempfile.TemporaryDirectory(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-") as workdir:
        results = [
            _load_feed(con, spec, sources[spec.name], options, batch_id, Path(workdir))
            for spec in FEEDS
            if spec.name in sources
        ]
    if options.parquet is not None:  # the runs just committed, and any a crash left unlanded
        Landing(options.parquet).catch_up(con)
    return results


WORKDIR_PREFIX = "ventes-loader-"  # + the pid of the loader that made it


def remove_abandoned_workdirs() -> None:
    """Remove the download folders of loaders that died without cleaning up (SIGKILL, a power
    cut): each is named after its loader's pid, and removed when no such process lives. A pid
    reused by another process keeps its folder until the next start (never a live one removed)."""
    temp = Path(tempfile.gettempdir())
    for folder in temp.glob(f"{WORKDIR_PREFIX}*-*"):
        pid = folder.name.removeprefix(WORKDIR_PREFIX).partition("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: nothing sent, only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and belongs to someone else
        return True
    return True


def _load_feed(
    con: sqlite3.Connection,
    spec: FeedSpec,
    source: str,
    options: LoadOptions,
    batch_id: str,
    workdir: Path,
) -> FeedResult:
    started, started_at = time.perf_counter(), utc_now()
    # recorded, and keying the unchanged shortcut, the snapshots and the date-order guard, by
    # what the source is: a path, a file:// URL and a symlink to one sheet are one source
    result = FeedResult(feed=spec.name, source=source_identity(source))
    try:
        previous = None if options.force else last_success(con, spec.name, result.source)
        validators = Validators(previous["etag"], previous["last_modified"]) if previous else None
        confine = options.confine_to if options.confined is None or spec.name in options.confined else None
        fetched = fetch(source, workdir / f"{spec.name}.csv", validators, options.http, confine)
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
        _load_body(
            con, spec, fetched, options=options, batch_id=batch_id, started_at=started_at, result=result
        )
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
    *,
    options: LoadOptions,
    batch_id: str,
    started_at: str,
    result: FeedResult,
    replayed: Entry | None = None,
) -> None:
    """Parse and insert the feed in one transaction, audit row included: all or nothing.

    With an archive, the body is kept in it before the commit and journaled after; a
    ``replayed`` entry of the archive is stored as it was then (its encoding, its load time,
    its journal number) and not archived again.
    """
    assert fetched.path is not None
    result.encoding = (
        replayed.options["encoding"]
        if replayed is not None
        else choose_encoding(fetched.path, fetched.charset, fetched.first_invalid_utf8)
    )
    refuse_nul(fetched.path, fetched.first_nul, result.encoding)
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
                loaded_at = replayed.loaded_at if replayed is not None else next_loaded_at(con)
                rejects = Rejects(con, run_id, spec.name, feed.delimiter)
                if spec.versioned:
                    counts = load_versions(
                        con,
                        spec,
                        feed,
                        mapping=mapping,
                        run_id=run_id,
                        loaded_at=loaded_at,
                        source=result.source,
                        rejects=rejects,
                        progress=progress,
                        limits=options.limits,
                    )
                else:
                    sales = SalesOptions(
                        date_order=result.date_order or "iso",
                        occurrence_max_keys=options.occurrence_max_keys,
                        parallel_min_bytes=options.parallel_min_bytes,
                        limits=options.limits,
                        encoding=result.encoding,
                        snapshot=options.snapshot,
                        source=result.source,
                        parser_start=options.parser_start,
                        skip_unchanged_days=not options.force,
                    )
                    *counts, diff = load_sales(
                        con,
                        fetched.path,
                        mapping=mapping,
                        run_id=run_id,
                        rejects=rejects,
                        options=sales,
                        progress=progress,
                    )
                    result.rows_retired, result.rows_aged_out = diff.retired, diff.aged_out
                    result.rows_restored = diff.restored
                rejects.flush()
                result.rows_inserted, result.rows_duplicate = counts
                result.rows_rejected = rejects.count
                result.rows_read = sum((*counts, rejects.count))
                finish_run(con, result, loaded_at)
                entry = _archive(
                    con, fetched, options, result, times=(started_at, loaded_at), replayed=replayed
                )
        finally:
            progress.close()
    if entry is not None and replayed is None:
        Archive(options.archive).record(entry)  # after the commit: the journal lists committed loads


def read_options(options: LoadOptions, result: FeedResult) -> dict:
    """How a body was read, so that a replay reads it the same way (loader_runs.read_options)."""
    limits = dataclasses.asdict(options.limits)
    limits["min_date"] = options.limits.min_date.isoformat()
    limits["max_date"] = options.limits.latest_date().isoformat()  # "tomorrow" as it was then
    orders = {order: name for name, order in DATE_FORMATS.items()}
    return {
        "encoding": result.encoding,
        "date_format": orders.get(result.date_order) if result.date_order else None,
        "sales_id_column": options.sales_id_column,
        "occurrence_max_keys": options.occurrence_max_keys,
        "limits": limits,
        "snapshot": dataclasses.asdict(options.snapshot),
    }


def replay_options(recorded: dict, base: LoadOptions) -> LoadOptions:
    """``base`` with what a body was read with then (the inverse of :func:`read_options`)."""
    limits = dict(recorded["limits"])
    limits["min_date"] = dt.date.fromisoformat(limits["min_date"])
    limits["max_date"] = dt.date.fromisoformat(limits["max_date"]) if limits["max_date"] else None
    return dataclasses.replace(
        base,
        date_format=recorded["date_format"],
        sales_id_column=recorded["sales_id_column"],
        occurrence_max_keys=recorded["occurrence_max_keys"],
        limits=Limits(**limits),
        snapshot=SnapshotPolicy(**recorded["snapshot"]),
        archive=None,
    )


def _archive(
    con: sqlite3.Connection,
    fetched: Fetched,
    options: LoadOptions,
    result: FeedResult,
    *,
    times: tuple[str, str],
    replayed: Entry | None,
) -> Entry | None:
    """Inside the load's transaction: the body kept in the archive (durable before the commit),
    its journal number and read options on the run's row; the entry to journal after the commit."""
    if replayed is not None:
        seq, recorded = replayed.seq, replayed.options
    elif options.archive is not None:
        archive = Archive(options.archive)
        archive.keep(fetched.path, result.sha256)
        stored = con.execute("select coalesce(max(archive_seq), 0) from loader_runs").fetchone()[0]
        seq, recorded = max(stored, archive.last_seq()) + 1, read_options(options, result)
    else:
        return None
    con.execute(
        "update loader_runs set archive_seq = ?, read_options = ? where run_id = ?",
        (seq, json.dumps(recorded, sort_keys=True), result.run_id),
    )
    started_at, loaded_at = times
    return Entry(
        seq=seq,
        feed=result.feed,
        source=result.source,
        sha256=result.sha256,
        started_at=started_at,
        loaded_at=loaded_at,
        options=recorded,
    )


def replay(
    con: sqlite3.Connection, archive: Archive, entry: Entry, options: LoadOptions | None = None
) -> FeedResult:
    """Store an archived body again, read as it was then (``pipeline rebuild`` and ``restore``)."""
    spec = next(s for s in FEEDS if s.name == entry.feed)
    options = replay_options(entry.options, options or LoadOptions())
    result = FeedResult(feed=entry.feed, source=entry.source)
    started = time.perf_counter()
    with archive.opened(entry) as body, tempfile.TemporaryDirectory(prefix="ventes-replay-") as workdir:
        fetched = fetch(str(body), Path(workdir) / "body.csv", None, options.http)
        if fetched.sha256 != entry.sha256:
            raise ArchiveError(
                f"the archived body of load {entry.seq} does not match its digest: the archive is damaged"
            )
        result.bytes, result.sha256 = fetched.size, fetched.sha256
        _load_body(
            con,
            spec,
            fetched,
            options=options,
            batch_id=f"replay-{entry.seq}",
            started_at=entry.started_at,
            result=result,
            replayed=entry,
        )
    result.seconds = time.perf_counter() - started
    return result
