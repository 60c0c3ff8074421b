"""The refresh service's backups run beside its loop (pipeline.watch.BackgroundBackups): a
request returns at once, one backup runs at a time, requests made meanwhile give exactly one
more backup (of the newest state), a failure never stops the next, and a stop abandons one."""

from __future__ import annotations

import io
import json
import sqlite3
import threading
from pathlib import Path

from loader import backup as backups
from pipeline.events import EventLog
from pipeline.watch import BackgroundBackups


class Backups:
    """Real backups of a real warehouse, each waiting for a go before it starts."""

    def __init__(self, db: Path, folder: Path):
        self.db, self.folder = db, folder
        self.go = threading.Semaphore(0)
        self.started = threading.Semaphore(0)
        self.taken: list[Path] = []
        self.fail_next = False

    def take(self) -> None:
        self.started.release()
        assert self.go.acquire(timeout=10)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the disk went away")
        self.taken.append(backups.take(self.db, self.folder))


def warehouse(tmp_path: Path) -> Path:
    db = tmp_path / "w.db"
    con = sqlite3.connect(db)
    con.execute("create table t (x)")
    con.execute("insert into t values (1)")
    con.commit()
    con.close()
    return db


def events(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_request_returns_at_once_and_requests_meanwhile_give_one_more_backup(tmp_path: Path) -> None:
    job = Backups(warehouse(tmp_path), tmp_path / "backups")
    background = BackgroundBackups(job.take, EventLog("json", stream=io.StringIO()))
    background.request()  # returns while the backup waits for its go
    assert job.started.acquire(timeout=10)
    background.request()
    background.request()  # two requests during a backup: one more backup after it
    job.go.release()
    assert job.started.acquire(timeout=10)  # the second one starts by itself
    job.go.release()
    assert not job.started.acquire(timeout=0.5)  # and no third
    assert len(job.taken) == 2 and all(backups.integrity_problem(p) is None for p in job.taken)


def test_a_failed_backup_does_not_stop_the_next_and_a_stop_abandons_one(tmp_path: Path) -> None:
    job = Backups(warehouse(tmp_path), tmp_path / "backups")
    stream = io.StringIO()
    background = BackgroundBackups(job.take, EventLog("json", stream=stream))
    job.fail_next = True
    background.request()
    assert job.started.acquire(timeout=10)
    job.go.release()  # this one raises
    background.request()
    assert job.started.acquire(timeout=10)  # the next request still takes a backup
    background.abandon()  # the service stops while it runs
    job.go.release()
    assert [e["event"] for e in events(stream)] == ["backup_failed", "backup_abandoned"]
    assert "the disk went away" in events(stream)[0]["error"]
