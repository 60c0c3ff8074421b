"""The warehouse's schema version, and the numbered migrations that bring a warehouse to it.

The version is SQLite's ``pragma user_version`` (in the file header: it travels with every
copy and backup). Every change of what the loader stores is a migration here, numbered, run at
start by :func:`ensure_schema`:

- a new warehouse runs them all (the first creates the tables), in one transaction;
- a warehouse at an older version is backed up first (``backups/`` beside it,
  ``<name>-pre-migration-v<N>-<time>.db``), then its pending migrations run in one transaction
  with the version bump: a failure leaves it exactly as it was, at its old version;
- a warehouse at a newer version than this code knows is refused (:class:`SchemaTooNew`): old
  code must not write a format it does not understand.

Version 0 is every warehouse written before versions existed (releases up to a4b5d79): the
first migration brings any of them to that release's format.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import backup
from .db import transaction
from .errors import SchemaTooNew
from .feeds import PRODUCTS, SALES
from .schema import raw_table_ddl, statements
from .snapshots import migrate as migrate_snapshots
from .versions import content_hash


@dataclass(frozen=True)
class Migration:
    version: int
    what: str
    apply: Callable[[sqlite3.Connection], None]


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in con.execute(f"pragma table_info({table})")}


def _add_columns(con: sqlite3.Connection, table: str, columns: tuple[tuple[str, str], ...]) -> None:
    """Columns a release added: created with the table in a new warehouse, added to an old one."""
    present = _columns(con, table)
    for column, declaration in columns:
        if column not in present:
            con.execute(f"alter table {table} add column {column} {declaration}")


def _baseline(con: sqlite3.Connection) -> None:
    """Any warehouse before schema versions, or a new one, to the format of release a4b5d79."""
    for statement in statements():
        con.execute(statement)
    _add_columns(
        con,
        "loader_runs",
        (
            ("encoding", "text"),
            ("date_order", "text"),
            ("rows_retired", "integer not null default 0"),
            ("rows_aged_out", "integer not null default 0"),
            ("rows_restored", "integer not null default 0"),
        ),
    )
    migrate_snapshots(con)  # the snapshot of one row per id, before sales_snapshot_days


def _archive_columns(con: sqlite3.Connection) -> None:
    """loader_runs says which archived body a run stored and how it was read (the archive's
    journal sequence, the body's sha256 is the ``sha256`` column), so that restore and rebuild
    can replay it."""
    _add_columns(con, "loader_runs", (("archive_seq", "integer"), ("read_options", "text")))
    con.execute("create index if not exists loader_runs_by_archive_seq on loader_runs (archive_seq)")


def _prices_in_cents(con: sqlite3.Connection) -> None:
    """raw_products.price (euros, a float) becomes price_cents (whole cents): sums of money are
    then exact at any size. The table is rebuilt (SQLite cannot change a column's type) with
    the same version ids, and each version's content hash recomputed from the cents, so that the
    next load of an unchanged feed stores no new version."""
    if "price" not in _columns(con, "raw_products"):
        return  # created by this release's baseline: already in cents
    con.execute("alter table raw_products rename to raw_products_before_cents")
    con.execute("drop index if exists raw_products_by_key")
    for statement in statements(raw_table_ddl(PRODUCTS)):
        con.execute(statement)
    typed = [c.typed for c in PRODUCTS.columns]
    key_index = PRODUCTS.field_names.index(PRODUCTS.key)
    old = [("cast(round(price * 100) as integer)" if name == "price_cents" else name) for name in typed]
    others = [
        "version_id",
        *(c.raw for c in PRODUCTS.columns),
        "load_run_id",
        "loaded_at",
        "source",
        "line_number",
    ]
    rows = con.execute(f"select {', '.join(old + others)} from raw_products_before_cents").fetchall()
    width = len(typed)
    con.executemany(
        f"insert into raw_products ({', '.join(typed)}, content_hash, {', '.join(others)}) "
        f"values ({', '.join('?' * (width + 1 + len(others)))})",
        [(*row[:width], content_hash(list(row[:width]), key_index), *row[width:]) for row in rows],
    )
    con.execute("drop table raw_products_before_cents")


def _sales_by_run(con: sqlite3.Connection) -> None:
    """An index of raw_sales by loader run: a run's rows are read back by it (the Parquet
    landing) without scanning every sale."""
    for statement in statements(raw_table_ddl(SALES)):
        con.execute(statement)


MIGRATIONS = (
    Migration(1, "the format of the releases before schema versions (up to a4b5d79)", _baseline),
    Migration(2, "loader_runs: archive_seq and read_options (the landing archive)", _archive_columns),
    Migration(3, "raw_products: prices in whole cents (price_cents), exact sums", _prices_in_cents),
    Migration(4, "raw_sales: an index by loader run (the Parquet landing)", _sales_by_run),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def version(con: sqlite3.Connection) -> int:
    return con.execute("pragma user_version").fetchone()[0]


def ensure_schema(con: sqlite3.Connection, db_path: Path, backup_dir: Path | None = None) -> list[int]:
    """Bring the warehouse to :data:`SCHEMA_VERSION`; returns the migrations applied.

    Raises :class:`SchemaTooNew` for a warehouse of a newer release.
    """
    found = version(con)
    _refuse_newer(found, db_path)
    if found == SCHEMA_VERSION:
        return []
    has_data = con.execute("select 1 from sqlite_master where name = 'loader_runs'").fetchone() is not None
    if has_data:  # a copy first: a migration that goes wrong in a way SQLite cannot undo is undone by it
        folder = backup_dir or backup.default_dir(db_path)
        backup.take(db_path, folder, label=f"pre-migration-v{found}")
    with transaction(con):
        found = version(con)  # another process may have migrated while we waited for the lock
        _refuse_newer(found, db_path)
        pending = [m for m in MIGRATIONS if m.version > found]
        for migration in pending:
            migration.apply(con)
        con.execute(f"pragma user_version = {SCHEMA_VERSION}")
    return [m.version for m in pending]


def _refuse_newer(found: int, db_path: Path) -> None:
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"the warehouse {db_path} has schema version {found}, written by a newer release of "
            f"ventes-pme; this one knows versions up to {SCHEMA_VERSION}. Upgrade ventes-pme, or "
            "restore a backup taken by this release (python -m pipeline restore)"
        )
