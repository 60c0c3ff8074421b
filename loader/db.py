"""The warehouse connection, and transactions as context managers.

Every write of the loader goes through :func:`transaction` (one ``BEGIN IMMEDIATE`` ...
``COMMIT``) or :func:`savepoint` (a part of one that can be undone alone), in the spirit of
sqlite-utils' ``atomic()``: no module writes ``begin``/``commit``/``rollback`` by hand, so
there is one place that decides what happens when a commit or a rollback itself fails.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import WarehouseUnavailable

DEFAULT_DB = "data/warehouse.db"


def connect(
    db_path: str | Path, busy_timeout_s: float = 600.0, backup_dir: Path | None = None
) -> sqlite3.Connection:
    """Open the warehouse in WAL mode with a busy timeout, at the current schema version.

    A new warehouse gets the schema; an older one is backed up (in ``backup_dir``, default
    backups/ beside it) and migrated (``loader.migrations``); a newer one is refused
    (:class:`~loader.migrations.SchemaTooNew`).

    WAL lets readers (dbt, Datasette) work while a load runs; the busy timeout makes a
    second loader wait for the first instead of failing with "database is locked".
    Transactions are managed explicitly (isolation_level=None) so that each feed is
    exactly one BEGIN IMMEDIATE ... COMMIT.
    """
    path = Path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(path), isolation_level=None, timeout=busy_timeout_s)
    con.execute(f"pragma busy_timeout = {int(busy_timeout_s * 1000)}")
    _switch_to_wal(con, busy_timeout_s)
    con.execute("pragma synchronous = normal")
    con.execute("pragma cache_size = -8192")  # 8 MiB page cache: rows arrive in near key order
    con.execute("pragma temp_store = file")
    from .migrations import ensure_schema  # migrations write through transaction() below

    try:
        ensure_schema(con, path, backup_dir)
    except BaseException:
        con.close()
        raise
    return con


def _switch_to_wal(con: sqlite3.Connection, busy_timeout_s: float) -> None:
    """``pragma journal_mode = wal``, waiting like the busy timeout does.

    SQLite does not call the busy handler for a journal-mode change: two loaders creating the
    same new warehouse at once got "database is locked" at once. Retried until the timeout.
    """
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            con.execute("pragma journal_mode = wal")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


@contextlib.contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` when the block raises.

    IMMEDIATE takes the write lock up front, so two writers queue on the busy timeout
    instead of deadlocking on an upgrade. If SQLite already rolled the transaction back
    (a full disk, an I/O error), the rollback here is skipped: the original error is what
    propagates, never a "no transaction is active" raised while handling it.
    """
    con.execute("begin immediate")
    try:
        yield con
    except BaseException:
        _rollback(con)
        raise
    try:
        con.execute("commit")
    except BaseException:
        _rollback(con)  # the commit failed but may have left the transaction open (SQLITE_FULL...)
        raise


def _rollback(con: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open; never let a failed rollback hide the error."""
    if con.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            con.execute("rollback")


@contextlib.contextmanager
def savepoint(con: sqlite3.Connection, name: str) -> Iterator[sqlite3.Connection]:
    """A nested part of the current transaction, undone alone when the block raises."""
    con.execute(f"savepoint {name}")
    try:
        yield con
    except BaseException:
        if con.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                con.execute(f"rollback to {name}")
                con.execute(f"release {name}")
        raise
    con.execute(f"release {name}")


def add_db_argument(parser: argparse.ArgumentParser, what: str = "the SQLite warehouse") -> None:
    """The ``--db`` option every command shares: env WAREHOUSE_DB, else data/warehouse.db."""
    default = os.environ.get("WAREHOUSE_DB") or DEFAULT_DB
    parser.add_argument(
        "--db",
        default=default,
        metavar="PATH",
        help=f"{what} (env WAREHOUSE_DB, default {DEFAULT_DB}; now: {default})",
    )


@contextlib.contextmanager
def read_only(db_path: str | Path, needs: str) -> Iterator[sqlite3.Connection]:
    """The warehouse opened read-only, for the reports and doc generators (never creates it).

    ``needs`` says what must have run before ("run the loader and dbt build first"); a
    missing file or an SQLite error while reading become :class:`WarehouseUnavailable`.
    """
    if not Path(db_path).is_file():
        raise WarehouseUnavailable(f"no warehouse at {db_path}: {needs}")
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        yield con
    except sqlite3.Error as exc:
        raise WarehouseUnavailable(f"cannot read {db_path}: {exc} ({needs})") from None
    finally:
        con.close()
