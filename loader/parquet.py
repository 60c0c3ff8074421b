"""The Parquet landing: the warehouse's raw tables also as Parquet files, for other engines.

One SQLite file is the warehouse; when a user outgrows it, DuckDB or Spark run the same dbt
models over these files (``docs/scaling.md``). Layout, under ``parquet/`` beside the warehouse::

    raw_sales/load_run=<run id>/part-0.parquet         the sales a run stored
    raw_sales_events/load_run=<run id>/part-0.parquet  the retirements and restorations it recorded
    raw_products/load_run=<run id>/part-0.parquet      the product versions it stored
    raw_stores/load_run=<run id>/part-0.parquet        the store versions it stored
    loader_runs/part-0.parquet                         every run, rewritten when a run lands

Each table also has ``load_run=0/``, an empty file with the table's schema, so that a glob over
a table always matches (a warehouse whose stores never loaded still has a ``raw_stores``).

After each load the committed runs not landed yet are written (:meth:`Landing.catch_up`): the
run's rows are read back through the indexes by run (never a scan of a table), written to a
temporary file and renamed into place, so a reader never sees a partial file and a crash
between the commit and the landing is repaired by the next load. ``python -m pipeline
export-parquet`` writes the whole landing again (after a restore, or for an existing warehouse).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow is imported when a landing is written, not with the loader: a load with --no-parquet,
# or a command that never lands, does not pay its import


@dataclass(frozen=True)
class Table:
    name: str
    run_column: str  # the column naming the run that wrote a row
    feed: str | None  # the feed whose loaded runs write rows here; None: the runs themselves


TABLES = (
    Table("raw_sales", "load_run_id", "sales"),
    Table("raw_sales_events", "run_id", "sales"),
    Table("raw_products", "load_run_id", "products"),
    Table("raw_stores", "load_run_id", "stores"),
)
RUNS = "loader_runs"
PART = "part-0.parquet"


def default_dir(db: Path) -> Path:
    """``parquet/`` beside the warehouse."""
    return Path(db).resolve().parent / "parquet"


def schema(con: sqlite3.Connection, table: str) -> pa.Schema:
    """The Arrow schema of a warehouse table, from its declared SQLite types."""
    import pyarrow as pa

    types = {"integer": pa.int64(), "text": pa.string(), "real": pa.float64()}
    columns = con.execute(f"pragma table_info({table})").fetchall()
    return pa.schema(
        [(name, types.get(declared.lower(), pa.string())) for _cid, name, declared, *_ in columns]
    )


def _write(path: Path, table_schema: pa.Schema, rows: Iterable[tuple]) -> None:
    """Write then rename: a reader sees the whole file or none."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = list(rows)
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(table_schema)
    data = pa.table([pa.array(column, type=f.type) for column, f in zip(columns, table_schema, strict=True)],
                    schema=table_schema)  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    pq.write_table(data, partial, compression="zstd")
    os.replace(partial, path)


class Landing:
    """The Parquet landing folder of one warehouse."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _run_file(self, table: str, run_id: int) -> Path:
        return self.folder / table / f"load_run={run_id}" / PART

    def landed_runs(self, table: str) -> set[int]:
        """The runs with a file in ``table``, from the folder names (no file is opened)."""
        try:
            names = os.listdir(self.folder / table)
        except FileNotFoundError:
            return set()
        return {int(n.partition("=")[2]) for n in names if n.startswith("load_run=") and n[9:].isdigit()}

    def catch_up(self, con: sqlite3.Connection) -> int:
        """Land every committed loaded run that has no file yet; returns how many were written."""
        written = 0
        for table in TABLES:
            landed = self.landed_runs(table.name)
            if 0 not in landed:
                _write(self._run_file(table.name, 0), schema(con, table.name), [])
            loaded = con.execute(
                "select run_id from loader_runs where feed = ? and status = 'loaded' order by run_id",
                (table.feed,),
            ).fetchall()
            for (run_id,) in loaded:
                if run_id not in landed:
                    self.land(con, table, run_id)
                    written += 1
        runs_file = self.folder / RUNS / PART
        if written or not runs_file.exists():  # an unchanged poll lands nothing: no rewrite of every run
            _write(runs_file, schema(con, RUNS), con.execute(f"select * from {RUNS} order by run_id"))
        return written

    def land(self, con: sqlite3.Connection, table: Table, run_id: int) -> None:
        """One run's rows of one table, read back through the table's index by run."""
        rows = con.execute(f"select * from {table.name} where {table.run_column} = ?", (run_id,))
        _write(self._run_file(table.name, run_id), schema(con, table.name), rows)

    def export(self, con: sqlite3.Connection) -> int:
        """The whole landing written again from the warehouse (a restore renumbers runs)."""
        staging = self.folder.with_name(f".{self.folder.name}.export-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        written = Landing(staging).catch_up(con)
        old = self.folder.with_name(f".{self.folder.name}.old-{os.getpid()}")
        if self.folder.exists():
            os.replace(self.folder, old)
        os.replace(staging, self.folder)
        shutil.rmtree(old, ignore_errors=True)
        return written
