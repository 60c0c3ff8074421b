"""One refresh: load the feeds, build what changed, write the synthesis sheet, record it all.

    load (loader.load_feeds) -> anything new since the last good build? -> dbt build -> sheet

The dbt build runs only when a loader run stored, retired or restored something that no
successful build covers yet (``pipeline_runs.built_up_to_loader_run``), or when the marts do not
exist: an unchanged poll costs one conditional GET per feed and no dbt run, and a build that
failed is retried at the next refresh even if the sheet does not change again. A failed feed
does not stop the others, nor the build of what they loaded: the refresh is then ``failed``
(and alerted) while the marts still move forward. The synthesis sheet is written only after a
successful build, from the marts that build made.

Every step's failure is caught and recorded in the refresh's ``pipeline_runs`` row; only an
interruption (SIGTERM, Ctrl-C) unwinds, after the step under way rolled back.
"""

from __future__ import annotations

import sqlite3
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from loader.db import connect
from loader.load import LoadOptions, load_feeds
from report import fmt

from . import runs
from .dbt_runner import WarmDbt
from .events import EventLog
from .history import checkpoint


@dataclass(frozen=True, kw_only=True)
class RefreshConfig:
    db: Path
    sources: dict[str, str]
    load: LoadOptions
    report_dir: Path | None  # where the synthesis sheet goes; None: not written
    command: str = "run"
    # a build tests whole tables when no build did in this long; the others test what changed
    full_tests_every: float = 86_400.0


def refresh_once(config: RefreshConfig, dbt: WarmDbt, log: EventLog) -> runs.Refresh:
    """One refresh, recorded in ``pipeline_runs``; never raises but for an interruption."""
    started = time.perf_counter()
    refresh = runs.Refresh(config.command)
    try:
        con = connect(config.db)
    except (sqlite3.Error, OSError) as exc:
        refresh.outcome, refresh.errors = "failed", [f"cannot open the warehouse {config.db}: {exc}"]
        refresh.seconds = time.perf_counter() - started
        return refresh  # nowhere to record it: the log line and the alert say it
    try:
        runs.ensure_table(con)
        runs.start(con, refresh)
        try:
            _steps(con, config, dbt, log, refresh)
        except KeyboardInterrupt:
            refresh.outcome = "interrupted"
            raise
        finally:
            refresh.seconds = time.perf_counter() - started
            runs.finish(con, refresh)
            # the main file alone holds this refresh: a lost or deleted WAL loses nothing
            if not checkpoint(con):
                log("checkpoint_incomplete", detail="a reader kept part of the WAL; the next refresh retries")
    except sqlite3.Error as exc:  # pipeline_runs itself cannot be written (disk full...)
        refresh.outcome = "failed"
        refresh.errors.append(f"pipeline_runs could not be written: {exc}")
    finally:
        con.close()
    return refresh


def _steps(
    con: sqlite3.Connection, config: RefreshConfig, dbt: WarmDbt, log: EventLog, refresh: runs.Refresh
) -> None:
    for result in _guarded("load", refresh, lambda: load_feeds(con, config.sources, config.load)) or []:
        if not result.ok:
            refresh.feeds_failed.append(result.feed)
            refresh.errors.append(f"{result.feed}: {result.error}")
        elif result.rows_inserted or result.rows_retired or result.rows_restored:
            refresh.feeds_changed.append(result.feed)
            refresh.rows_inserted += result.rows_inserted
            refresh.rows_retired += result.rows_retired
    target = _guarded("warehouse check", refresh, lambda: _build_target(con, config.full_tests_every))
    if target is None:  # the check failed, and said why in refresh.errors
        pass
    elif target.loader_run is None:
        refresh.dbt_result = "skipped"
        if config.report_dir is not None and runs.sheet_due(con, config.report_dir):
            # nothing new, but the last build's sheet was never written (a full disk, a signal):
            # written now, so that a refresh is whole or retried
            written = _guarded("synthesis sheet", refresh, lambda: _write_sheet(config))
            refresh.report_written = written is not None
    else:
        refresh.tests = target.tests
        log("dbt_build", feeds_changed=",".join(refresh.feeds_changed) or None, tests=target.tests)
        outcome = _guarded("dbt build", refresh, lambda: dbt.build(target.tests))
        if outcome is not None and outcome.success:
            refresh.dbt_result, refresh.built_up_to_loader_run = "success", target.loader_run
            if config.report_dir is not None:
                written = _guarded("synthesis sheet", refresh, lambda: _write_sheet(config))
                refresh.report_written = written is not None
        else:
            refresh.dbt_result = "failed"
            if outcome is not None:
                refresh.errors.append(f"dbt build: {outcome.summary}")
    refresh.outcome = (
        "failed"
        if refresh.errors
        else "refreshed"
        if refresh.dbt_result == "success" or refresh.report_written
        else "unchanged"
    )


@dataclass(frozen=True)
class BuildTarget:
    """What a build now would cover: the newest loader run, or None when the last good build
    covers every loader run already and whole tables were tested recently (no build); and
    which tests it runs: ``changed`` (rows since the last build that passed) or ``all``."""

    loader_run: int | None
    tests: runs.TestScope = "all"


def _build_target(con: sqlite3.Connection, full_tests_every: float) -> BuildTarget:
    tests: runs.TestScope = "all" if runs.full_tests_due(con, full_tests_every) else "changed"
    built = runs.built_up_to(con)
    if (
        runs.marts_exist(con)
        and built is not None
        and runs.newest_change(con) <= built
        and tests == "changed"
    ):
        return BuildTarget(None)
    # a build with nothing new when whole tables are due: its models do next to nothing, its
    # tests read everything (the scheduled full check; a failure alerts like any build's)
    return BuildTarget(runs.newest_loader_run(con), tests)


def _guarded(step: str, refresh: runs.Refresh, call):  # -> the call's result; None only when it failed
    started = time.perf_counter()
    try:
        return call()
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # one failed step is one failed refresh, never a dead service
        last = traceback.extract_tb(exc.__traceback__)[-1]
        refresh.errors.append(
            f"{step}: {type(exc).__name__}: {str(exc)[:300]} (at {Path(last.filename).name}:{last.lineno})"
        )
        return None
    finally:
        refresh.timings[step] = round(time.perf_counter() - started, 3)


def _write_sheet(config: RefreshConfig) -> Path:
    from report.synthese import write_sheet  # matplotlib: imported when a sheet is due

    return write_sheet(config.db, config.report_dir, fmt.paris_today())
