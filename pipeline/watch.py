"""The refresh service: a refresh every ``--interval`` seconds, forever, with nobody typing.

An unchanged poll is one conditional GET per feed (the loader's ETag/sha256 shortcut) and no
dbt run. Failures never end the loop: the next attempt waits ``interval * 2^failures`` seconds,
capped by ``max_backoff``, so a sheet that is down is not hammered; the first success goes
back to the normal interval. Alerts fire on changes of state (``pipeline.alerts``).

Stopping: SIGTERM (``docker compose stop``) or Ctrl-C sets a flag. Between refreshes the wait
ends at once; during one, the step under way is interrupted where it stands: the loader rolls
back the feed it was storing, dbt cancels its query (SQLite rolls the model back), the refresh
is recorded as ``interrupted``, and the process exits 0 within seconds, not minutes (Docker's
stop timeout is 10 s before SIGKILL).
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from loader import backup
from loader.backup import Retention
from loader.errors import BackupError, WarehouseUnavailable

from . import runs
from .alerts import Alerts
from .dbt_runner import WarmDbt
from .errors import Stop
from .events import EventLog
from .health import last_success_age
from .refresh import RefreshConfig, refresh_once


class Stopper:
    """SIGTERM/SIGINT/SIGHUP handling: a flag between refreshes, an exception during one. SIGHUP
    (the terminal or the session that started the service went away) ends it like SIGTERM: a
    refresh never stays `running` in pipeline_runs."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.busy = False
        self.signal_name: str | None = None

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, _frame: object) -> None:
        first = not self.requested.is_set()
        self.signal_name = signal.Signals(signum).name
        self.requested.set()
        if self.busy and first:
            raise Stop()

    @contextmanager
    def step(self) -> Iterator[None]:
        self.busy = True
        try:
            if self.requested.is_set():  # the signal came just before the step: do not start it
                raise Stop()
            yield
        finally:
            self.busy = False

    def wait(self, seconds: float) -> None:
        self.requested.wait(seconds)


@dataclass(frozen=True, kw_only=True)
class WatchConfig:
    interval: float
    alert_after: float  # seconds without a successful refresh before the data_stale alert
    max_backoff: float
    backup_dir: Path | None = None  # a backup after each refresh that changed the warehouse; None: none
    retention: Retention = Retention()


def backoff(interval: float, failures: int, cap: float) -> float:
    """Seconds before the next attempt: the interval, doubled at each consecutive failure."""
    return interval if failures == 0 else min(interval * 2**failures, max(cap, interval))


def watch(
    config: RefreshConfig,
    watch_config: WatchConfig,
    log: EventLog,
    alerts: Alerts,
    stopper: Stopper,
) -> int:
    """Refresh until stopped; returns the exit status (0)."""
    dbt = WarmDbt(config.db)
    backups = (
        BackgroundBackups(lambda: take_backup(config.db, watch_config, log, alerts), log)
        if watch_config.backup_dir is not None
        else None
    )
    failures = 0
    log("watch_started", db=config.db, interval=watch_config.interval, alert_after=watch_config.alert_after)
    try:
        started = time.perf_counter()
        with stopper.step():
            dbt.warm()  # import and parse once, before the first change arrives
        log("dbt_ready", seconds=round(time.perf_counter() - started, 3))
    except Stop:
        log("watch_stopped", signal=stopper.signal_name)
        return 0
    except Exception as exc:  # the first build tries again, and records the failure
        log("dbt_warm_up_failed", error=str(exc)[:300])
    while not stopper.requested.is_set():
        try:
            with stopper.step():
                refresh = refresh_once(config, dbt, log)
        except Stop:
            log("refresh_interrupted", signal=stopper.signal_name, detail="the step under way rolled back")
            break
        log_refresh(log, refresh)
        if refresh.outcome == "refreshed" and backups is not None:
            backups.request()
        failures = 0 if refresh.ok else failures + 1
        alerts.refresh_ended(refresh.ok, error=refresh.error, consecutive_failures=failures)
        try:
            age, last = last_success_age(config.db)
        except WarehouseUnavailable:  # not even a pipeline_runs table: never refreshed
            age, last = None, None
        alerts.check_staleness(age, watch_config.alert_after, last)
        delay = backoff(watch_config.interval, failures, watch_config.max_backoff)
        if failures:
            log("backoff", consecutive_failures=failures, next_attempt_in=round(delay, 3))
        stopper.wait(delay)
    if backups is not None:
        backups.abandon()
    log("watch_stopped", signal=stopper.signal_name)
    return 0


class BackgroundBackups:
    """The backup after each refresh that changed the warehouse, taken beside the loop.

    A backup of a large warehouse takes seconds to minutes (a copy and its integrity check); taken
    in the loop, it delayed the next poll, so a change made meanwhile waited for it (37 s from a
    change to the marts at 10M sales, 3 s of it load and 4 s dbt). SQLite's backup is one read
    transaction (WAL: the refreshes go on writing), so it runs in a thread: one at a time, and a
    refresh that changes the warehouse while one runs gets the next one, taken as soon as it ends
    (of the newest state). A backup still running when the service stops is abandoned: its
    ``.partial`` file is never taken for a backup and the next backup removes it.
    """

    def __init__(self, take: Callable[[], None], log: EventLog):
        self._take, self._log = take, log
        self._lock = threading.Lock()
        self._running = False
        self._again = False

    def request(self) -> None:
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        threading.Thread(target=self._run, daemon=True, name="backup").start()

    def _run(self) -> None:
        while True:
            try:
                self._take()  # a failure is a log line and an alert (take_backup)
            except Exception as exc:  # anything else: logged; the next request takes a backup again
                self._log("backup_failed", error=f"{type(exc).__name__}: {str(exc)[:300]}")
            with self._lock:
                if not self._again:
                    self._running = False
                    return
                self._again = False

    def abandon(self) -> None:
        with self._lock:
            if self._running:
                self._log(
                    "backup_abandoned",
                    detail="the service stopped during a backup; the next one removes its partial file",
                )


def take_backup(db: Path, watch_config: WatchConfig, log: EventLog, alerts: Alerts) -> None:
    """A backup after a refresh that changed the warehouse, then the rotation. A failure is a log
    line and an alert, never the end of the loop: the data itself is stored."""
    started = time.perf_counter()
    try:
        path = backup.take(db, watch_config.backup_dir)
        removed = backup.prune(watch_config.backup_dir, watch_config.retention)
    except (BackupError, OSError, sqlite3.Error) as exc:
        log("backup_failed", error=str(exc)[:300])
        alerts.notify("backup_failed", error=str(exc)[:300])
        return
    log("backup", path=path, seconds=round(time.perf_counter() - started, 3), removed=len(removed) or None)


def log_refresh(log: EventLog, refresh: runs.Refresh) -> None:
    log(
        "refresh",
        run_id=refresh.run_id,
        outcome=refresh.outcome,
        feeds_changed=",".join(refresh.feeds_changed) or None,
        rows_inserted=refresh.rows_inserted,
        rows_retired=refresh.rows_retired,
        dbt=refresh.dbt_result,
        tests=refresh.tests,
        seconds=round(refresh.seconds, 3),
        steps=",".join(f"{step}:{seconds}" for step, seconds in refresh.timings.items()) or None,
        error=refresh.error,
    )
