"""The warehouse's history kept safe: backup, restore and rebuild (``python -m pipeline ...``).

- :func:`restore` puts a backup in place of a damaged or lost warehouse, never deleting the old
  file (it is moved aside), then replays from the landing archive every load committed after
  the backup was taken: nothing received is lost.
- :func:`rebuild` replays the whole archive, in its journal's order and with the options
  recorded then, into a new warehouse: the same raw sales, occurrence numbers, retirements and
  restorations, and after a full ``dbt build`` the same marts.
- :func:`checkpoint` moves every committed page from the WAL into the main file, so that the
  file alone holds every refresh once a command returns.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from loader.archive import Archive
from loader.db import connect
from loader.durable import fsync_path
from loader.integrity import integrity_problem
from loader.load import replay

from .dbt_runner import run_dbt
from .errors import HistoryError
from .lock import single_instance


@dataclass
class Replayed:
    """What a restore or a rebuild replayed from the archive."""

    loads: int = 0
    rows_inserted: int = 0
    rows_retired: int = 0
    moved_aside: list[Path] = field(default_factory=list)
    dbt_ok: bool | None = None
    dbt_output: str = ""


def checkpoint(con: sqlite3.Connection) -> bool:
    """Copy the WAL into the main file and truncate it; False when a reader kept part of it."""
    busy, log_frames, checkpointed = con.execute("pragma wal_checkpoint(truncate)").fetchone()
    return not busy and log_frames == checkpointed


def replay_after(con: sqlite3.Connection, archive: Archive, after_seq: int, result: Replayed) -> None:
    """Replay every journal entry after ``after_seq``, in order; stops at the first failure."""
    for entry in archive.entries():
        if entry.seq <= after_seq:
            continue
        feed = replay(con, archive, entry)
        if not feed.ok:
            raise HistoryError(
                f"replaying load {entry.seq} ({entry.feed}, {entry.source}) failed: {feed.error}"
            )
        result.loads += 1
        result.rows_inserted += feed.rows_inserted
        result.rows_retired += feed.rows_retired


def rebuild(archive_dir: Path, db: Path, work: Path) -> Replayed:
    """A new warehouse ``db`` from the archive alone, then a full ``dbt build``."""
    db = Path(db)
    if db.exists():
        raise HistoryError(
            f"{db} exists: rebuild writes a new warehouse only; choose a path that does not exist"
        )
    archive = Archive(archive_dir)
    if not archive.entries():
        raise HistoryError(
            f"no journal of loads in {archive_dir}: is it the landing archive (archive/ beside the warehouse)?"
        )
    result = Replayed()
    con = connect(db)
    try:
        replay_after(con, archive, 0, result)
        checkpoint(con)
    finally:
        con.close()
    _build(db, work, result, "--full-refresh")
    return result


def restore(backup_file: Path, db: Path, archive_dir: Path | None, work: Path) -> Replayed:
    """``backup_file`` in place of ``db`` (moved aside, never deleted), the loads received since
    replayed from the archive, then ``dbt build``. Refused while a refresh holds the warehouse."""
    db, backup_file = Path(db), Path(backup_file)
    problem = integrity_problem(backup_file)
    if problem:
        raise HistoryError(f"{backup_file} is not a sound backup ({problem}): choose another one")
    result = Replayed()
    with single_instance(db):  # AlreadyRunning: a refresh is under way (stop it first)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        for suffix in ("", "-wal", "-shm"):
            current = Path(f"{db}{suffix}")
            if current.exists():
                aside = Path(f"{db}.replaced-{stamp}{suffix}")
                current.rename(aside)
                result.moved_aside.append(aside)
        partial = db.with_name(f".{db.name}.restoring")
        shutil.copyfile(backup_file, partial)
        fsync_path(partial)
        partial.replace(db)
        fsync_path(db.parent)
        con = connect(db)
        try:
            after = con.execute("select coalesce(max(archive_seq), 0) from loader_runs").fetchone()[0]
            if archive_dir is not None and Path(archive_dir).is_dir():
                replay_after(con, Archive(archive_dir), after, result)
            checkpoint(con)
        finally:
            con.close()
    _build(db, work, result)
    return result


def _build(db: Path, work: Path, result: Replayed, *flags: str) -> None:
    built = run_dbt(db, work, "build", *flags)
    result.dbt_ok = built.returncode == 0
    result.dbt_output = (built.stdout or "")[-2000:]
