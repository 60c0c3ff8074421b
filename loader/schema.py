"""SQLite connection settings and the DDL of the tables the loader owns.

The raw tables are append-only: the loader never updates or deletes a row in them, so
every dbt model downstream can be rebuilt from them at any time.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

DDL = """
create table if not exists loader_runs (
    run_id          integer primary key autoincrement,
    batch_id        text    not null,   -- one invocation of the loader, shared by its feeds
    feed            text    not null,   -- sales | products | stores
    source          text    not null,   -- URL or path the feed was read from
    started_at      text    not null,   -- ISO 8601 UTC
    finished_at     text,
    status          text    not null check (status in ('loaded', 'unchanged', 'failed')),
    rows_read       integer not null default 0,
    rows_inserted   integer not null default 0,
    rows_duplicate  integer not null default 0,
    rows_rejected   integer not null default 0,
    bytes           integer,
    sha256          text,
    etag            text,
    last_modified   text,
    loaded_at       text,               -- timestamp stamped on the rows this run inserted
    error           text
);
create index if not exists loader_runs_by_source on loader_runs (source, status, run_id);

create table if not exists loader_rejects (
    reject_id       integer primary key,
    run_id          integer not null references loader_runs (run_id),
    feed            text    not null,
    line_number     integer not null,
    raw_line        text    not null,
    reason          text    not null
);
create index if not exists loader_rejects_by_run on loader_rejects (run_id);

create table if not exists raw_sales (
    sale_id         text    not null primary key,
    sale_date       text    not null,   -- parsed, ISO YYYY-MM-DD
    product_ref     text    not null,   -- trimmed
    store_id        text    not null,   -- trimmed, whole numbers without leading zeros
    quantity        integer not null,   -- parsed, > 0
    raw_date        text    not null,   -- the values exactly as received
    raw_product_ref text    not null,
    raw_quantity    text    not null,
    raw_store_id    text    not null,
    load_run_id     integer not null references loader_runs (run_id),  -- loaded_at, source: there
    line_number     integer not null
) without rowid;

create table if not exists raw_products (
    version_id      integer primary key,
    product_ref     text    not null,
    product_name    text    not null,
    price           real    not null,
    stock           integer not null,
    content_hash    text    not null,   -- sha256 of the normalised content
    raw_name        text    not null,
    raw_product_ref text    not null,
    raw_price       text    not null,
    raw_stock       text    not null,
    load_run_id     integer not null references loader_runs (run_id),
    loaded_at       text    not null,
    source          text    not null,
    line_number     integer not null
);
create index if not exists raw_products_by_key on raw_products (product_ref, version_id);

create table if not exists raw_stores (
    version_id      integer primary key,
    store_id        text    not null,
    city            text    not null,
    employees       integer not null,
    content_hash    text    not null,
    raw_store_id    text    not null,
    raw_city        text    not null,
    raw_employees   text    not null,
    load_run_id     integer not null references loader_runs (run_id),
    loaded_at       text    not null,
    source          text    not null,
    line_number     integer not null
);
create index if not exists raw_stores_by_key on raw_stores (store_id, version_id);
"""


def connect(db_path: str | Path, busy_timeout_s: float = 600.0) -> sqlite3.Connection:
    """Open the warehouse in WAL mode with a busy timeout and make sure the schema exists.

    WAL lets readers (dbt, Datasette) work while a load runs; the busy timeout makes a
    second loader wait for the first instead of failing with "database is locked".
    Transactions are managed explicitly (isolation_level=None) so that each feed is
    exactly one BEGIN IMMEDIATE ... COMMIT.
    """
    path = Path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(path), isolation_level=None, timeout=busy_timeout_s)
    con.execute(f"pragma busy_timeout = {int(busy_timeout_s * 1000)}")
    con.execute("pragma journal_mode = wal")
    con.execute("pragma synchronous = normal")
    con.execute("pragma cache_size = -32768")  # 32 MiB page cache: rows arrive in near key order
    con.execute("pragma temp_store = file")
    con.execute("begin immediate")
    try:
        for statement in DDL.split(";"):
            if statement.strip():
                con.execute(statement)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return con
