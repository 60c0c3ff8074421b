"""``pipeline_runs``: one row per refresh, read by the dashboard, the healthcheck and the alerts.

A row is inserted when a refresh starts (outcome ``running``) and completed when it ends, so a
refresh killed without warning (power cut, SIGKILL) stays visible as ``running`` with no end:
the next refresh does not trust it. The row also says up to which loader run the warehouse was
built (``built_up_to_loader_run``): a refresh rebuilds when the loader stored something newer,
whoever loaded it (this service, or a person running ``docker compose run loader``), and after a
failed build, so a transient dbt failure does not leave the marts stale until the sheet changes.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from loader.audit import utc_now
from loader.db import transaction
from report.synthese import SHEET_NAME

Outcome = Literal["running", "refreshed", "unchanged", "failed", "interrupted"]
DbtResult = Literal["success", "failed", "skipped"]  # skipped: nothing new to build
TestScope = Literal["changed", "all"]  # what a build tested (macros/test_scope.sql)
SUCCESS: tuple[Outcome, ...] = ("refreshed", "unchanged")

DDL = """
create table if not exists pipeline_runs (
    run_id integer primary key autoincrement,
    command text not null,               -- run | watch
    started_at text not null,            -- UTC, ISO 8601
    finished_at text,                    -- null while running, or when the refresh was killed
    outcome text not null,               -- running | refreshed | unchanged | failed | interrupted
    feeds_changed text,                  -- feeds that stored or retired something, comma-separated
    feeds_failed text,                   -- feeds whose load failed, comma-separated
    rows_inserted integer not null default 0,
    rows_retired integer not null default 0,
    dbt_result text,                     -- success | failed | skipped (nothing new to build)
    tests text,                          -- the build's tests: changed (rows since the last build
                                         -- that passed) | all (whole tables); null: no build
    built_up_to_loader_run integer,      -- the newest loader run a successful build covers
    report_written integer not null default 0,
    seconds real,
    error text
)
"""


@dataclass
class Refresh:
    """What one refresh did; becomes its ``pipeline_runs`` row."""

    command: str
    run_id: int | None = None
    started_at: str = field(default_factory=utc_now)
    outcome: Outcome = "running"
    feeds_changed: list[str] = field(default_factory=list)
    feeds_failed: list[str] = field(default_factory=list)
    rows_inserted: int = 0
    rows_retired: int = 0
    dbt_result: DbtResult | None = None
    tests: TestScope | None = None
    built_up_to_loader_run: int | None = None
    report_written: bool = False
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step, for the log line

    @property
    def ok(self) -> bool:
        return self.outcome in SUCCESS

    @property
    def error(self) -> str | None:
        return "; ".join(self.errors) or None


def ensure_table(con: sqlite3.Connection) -> None:
    """The table, and in a warehouse from an earlier release, the columns added since."""
    with transaction(con):
        con.execute(DDL)
        if "tests" not in {row[1] for row in con.execute("pragma table_info(pipeline_runs)")}:
            con.execute("alter table pipeline_runs add column tests text")


def start(con: sqlite3.Connection, refresh: Refresh) -> None:
    with transaction(con):
        refresh.run_id = con.execute(
            "insert into pipeline_runs (command, started_at, outcome) values (?, ?, 'running')",
            (refresh.command, refresh.started_at),
        ).lastrowid


def finish(con: sqlite3.Connection, refresh: Refresh) -> None:
    with transaction(con):
        con.execute(
            """update pipeline_runs set finished_at = ?, outcome = ?, feeds_changed = ?, feeds_failed = ?,
                   rows_inserted = ?, rows_retired = ?, dbt_result = ?, tests = ?, built_up_to_loader_run = ?,
                   report_written = ?, seconds = ?, error = ?
               where run_id = ?""",
            (
                utc_now(),
                refresh.outcome,
                ",".join(refresh.feeds_changed) or None,
                ",".join(refresh.feeds_failed) or None,
                refresh.rows_inserted,
                refresh.rows_retired,
                refresh.dbt_result,
                refresh.tests,
                refresh.built_up_to_loader_run,
                int(refresh.report_written),
                round(refresh.seconds, 3),
                refresh.error,
                refresh.run_id,
            ),
        )


def newest_change(con: sqlite3.Connection) -> int:
    """The newest loader run that stored, retired or restored something (0: none)."""
    return con.execute(
        """select coalesce(max(run_id), 0) from loader_runs
           where status = 'loaded' and rows_inserted + rows_retired + rows_restored > 0"""
    ).fetchone()[0]


def newest_loader_run(con: sqlite3.Connection) -> int:
    return con.execute("select coalesce(max(run_id), 0) from loader_runs").fetchone()[0]


def built_up_to(con: sqlite3.Connection) -> int | None:
    """The newest loader run covered by a successful build (None: never built by this service)."""
    return con.execute(
        "select max(built_up_to_loader_run) from pipeline_runs where dbt_result = 'success'"
    ).fetchone()[0]


def full_tests_due(con: sqlite3.Connection, every_seconds: float) -> bool:
    """True when no build tested whole tables and passed in the last ``every_seconds``."""
    last = con.execute(
        "select max(finished_at) from pipeline_runs where tests = 'all' and dbt_result = 'success'"
    ).fetchone()[0]
    return last is None or seconds_since(last) >= every_seconds


def sheet_due(con: sqlite3.Connection, report_dir: Path) -> bool:
    """True when the newest successful build has no synthesis sheet written since (its writing
    failed: a full disk, a signal), or the sheet is gone: the next refresh writes it."""
    if not (report_dir / SHEET_NAME).exists():
        return marts_exist(con)
    built, written = con.execute(
        """select max(case when dbt_result = 'success' then run_id end),
                  max(case when report_written = 1 then run_id end)
           from pipeline_runs"""
    ).fetchone()
    return built is not None and (written is None or written < built)


def marts_exist(con: sqlite3.Connection) -> bool:
    return (
        con.execute(
            "select 1 from sqlite_master where type = 'table' and name = 'mart_revenue_total'"
        ).fetchone()
        is not None
    )


def seconds_since(utc_iso: str, now: dt.datetime | None = None) -> float:
    """Seconds from a stored UTC time (``2026-11-29T08:05:59.029Z``) to ``now``."""
    return ((now or dt.datetime.now(dt.UTC)) - dt.datetime.fromisoformat(utc_iso)).total_seconds()


def last_success(con: sqlite3.Connection) -> str | None:
    """When a refresh last confirmed the warehouse matches the feeds (finished_at, UTC)."""
    return con.execute(
        "select max(finished_at) from pipeline_runs where outcome in ('refreshed', 'unchanged')"
    ).fetchone()[0]
