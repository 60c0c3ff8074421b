"""The DDL of the tables the loader owns: the audit tables, and the raw tables derived from
the feed declarations in ``loader.feeds``.

The raw tables are append-only: the loader never updates or deletes a row in them, so
every dbt model downstream can be rebuilt from them at any time. Each holds, per feed
column, the parsed value (typed column) and the text exactly as received (``raw_<field>``).
"""

from __future__ import annotations

import sqlite3

from . import snapshots
from .feeds import FEEDS, FeedSpec

AUDIT_DDL = """
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
    rows_retired    integer not null default 0, -- sales: missing from the sheet inside its dates
    rows_aged_out   integer not null default 0, -- sales: gone from a rolling window, kept live
    rows_restored   integer not null default 0, -- sales: retired earlier, in the sheet again
    bytes           integer,
    sha256          text,
    etag            text,
    last_modified   text,
    loaded_at       text,               -- timestamp stamped on the rows this run inserted
    error           text,
    encoding        text,               -- how the body was decoded (utf-8-sig, utf-16, cp1252...)
    date_order      text,               -- sales: iso, dmy or mdy, as the dates were read
    archive_seq     integer,            -- the landing archive's journal entry of the body stored
    read_options    text                -- JSON: how the body was read (replayed the same way)
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
"""


def _typed_columns(spec: FeedSpec) -> list[str]:
    return [
        f"{c.typed:<15} {c.sql_type:<7} not null" + (f",   -- {c.comment}" if c.comment else ",")
        for c in spec.columns
    ]


def _raw_columns(spec: FeedSpec) -> list[str]:
    return [f"{c.raw:<15} text    not null," for c in spec.columns]


def raw_table_ddl(spec: FeedSpec) -> str:
    """``create table`` for a feed's raw table (and its key index for versioned feeds)."""
    if not spec.versioned:
        # one row per sale; the run's loaded_at and source live once in loader_runs
        lines = [
            "sale_id         text    not null primary key,",
            *_typed_columns(spec),
            *_raw_columns(spec),
            "load_run_id     integer not null references loader_runs (run_id),",
            "line_number     integer not null",
        ]
        body = "\n    ".join(lines)
        return (
            f"create table if not exists {spec.table} (\n    {body}\n) without rowid;\n"
            # a run's rows read back without a scan (the Parquet landing, loader.parquet)
            f"create index if not exists {spec.table}_by_run on {spec.table} (load_run_id);\n"
        )
    key = spec.column(spec.key).typed
    lines = [
        "version_id      integer primary key,",
        *_typed_columns(spec),
        "content_hash    text    not null,   -- sha256 of the normalised content",
        *_raw_columns(spec),
        "load_run_id     integer not null references loader_runs (run_id),",
        "loaded_at       text    not null,",
        "source          text    not null,",
        "line_number     integer not null",
    ]
    body = "\n    ".join(lines)
    return (
        f"create table if not exists {spec.table} (\n    {body}\n);\n"
        f"create index if not exists {spec.table}_by_key on {spec.table} ({key}, version_id);\n"
    )


DDL = AUDIT_DDL + "".join(raw_table_ddl(spec) for spec in FEEDS) + snapshots.DDL


def statements(ddl: str = DDL) -> list[str]:
    """The DDL split into complete statements (a ';' inside a comment does not split one)."""
    out, pending = [], ""
    for piece in ddl.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                out.append(pending)
            pending = ""
    return out
