"""Backups of the warehouse: a consistent online copy, checked, renamed into place.

The sales sheet keeps 30 days: after that the warehouse is the client's only record of a sale,
so a copy of it must exist that one damaged page or one lost volume cannot take. A backup is
taken with SQLite's online backup API in one step (``pages=-1``): it reads one snapshot of the
database under a read transaction, so loads and dbt builds go on while it runs and the copy is
consistent (WAL readers never block the writer). The copy is written as ``.<name>.partial``,
checked with ``pragma integrity_check``, fsynced, then renamed to its final name: a backup
killed half-way leaves only a ``.partial`` file, which is never taken for a backup and is
removed by the next one.

Retention (:func:`prune`): the newest ``keep_last`` backups, plus the newest of each day for
``keep_days`` days.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .durable import fsync_path
from .errors import BackupError
from .integrity import integrity_problem

NAME = re.compile(r"^(?P<stem>.+)-(?P<stamp>\d{8}T\d{6}\d{6}Z)\.db$")
LABELLED = re.compile(r"-pre-[a-z0-9-]+-\d{8}T")  # a backup taken before a migration or a restore


@dataclass(frozen=True, kw_only=True)
class Retention:
    keep_last: int = 7  # the newest backups kept whatever their age
    keep_days: int = 30  # and the newest backup of each of these last days


def default_dir(db: Path) -> Path:
    """``backups/`` beside the warehouse."""
    return Path(db).resolve().parent / "backups"


def _stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


def take(
    db: Path, folder: Path | None = None, now: dt.datetime | None = None, label: str | None = None
) -> Path:
    """A checked backup of ``db`` in ``folder`` (default: backups/ beside it); returns its path.

    A ``label`` (``pre-migration-v1``) names a backup taken before an operation: it is kept
    out of the rotation (:func:`backups`, :func:`prune`) and never removed by it.
    """
    db = Path(db)
    if not db.is_file():
        raise BackupError(f"no warehouse at {db}: nothing to back up")
    folder = Path(folder) if folder else default_dir(db)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(".*.partial"):  # left by a backup that was killed
        stale.unlink(missing_ok=True)
    name = f"{db.stem}-{label}" if label else db.stem
    final = folder / f"{name}-{_stamp(now or dt.datetime.now(dt.UTC))}.db"
    partial = folder / f".{final.name}.partial"
    source = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=600)
    try:
        target = sqlite3.connect(partial)
        try:
            source.backup(target, pages=-1)  # one step: one consistent snapshot
            target.execute("pragma journal_mode = delete")  # a backup is one self-contained file
        finally:
            target.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"could not back up {db}: {exc}") from None
    finally:
        source.close()
    problem = integrity_problem(partial)
    if problem:
        partial.unlink(missing_ok=True)
        raise BackupError(
            f"the copy of {db} failed its integrity check ({problem}): is the warehouse damaged?"
        )
    fsync_path(partial)
    partial.replace(final)
    fsync_path(folder)
    return final


def backups(folder: Path) -> list[Path]:
    """The rotated backups in ``folder``, oldest first (a ``.partial`` is never one, and the
    labelled backups taken before a migration or a restore are not rotated)."""
    if not Path(folder).is_dir():
        return []
    found = [p for p in Path(folder).iterdir() if NAME.match(p.name) and not LABELLED.search(p.name)]
    return sorted(found, key=lambda p: NAME.match(p.name)["stamp"])


def taken_at(path: Path) -> dt.datetime:
    stamp = NAME.match(Path(path).name)["stamp"]
    return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=dt.UTC)


def prune(folder: Path, retention: Retention = Retention(), now: dt.datetime | None = None) -> list[Path]:
    """Remove the backups the retention does not keep; returns what was removed."""
    now = now or dt.datetime.now(dt.UTC)
    found = backups(folder)
    keep = set(found[-retention.keep_last :]) if retention.keep_last else set()
    newest_of_day: dict[dt.date, Path] = {}
    for path in found:  # oldest first: the last one seen for a day is its newest
        when = taken_at(path)
        if now - when <= dt.timedelta(days=retention.keep_days):
            newest_of_day[when.date()] = path
    keep |= set(newest_of_day.values())
    removed = [p for p in found if p not in keep]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed
