"""The healthcheck: healthy when the last successful refresh is younger than ``max_age``.

Read-only and quick (one query), so Docker can run it every few seconds. "Successful" includes
unchanged polls: the warehouse was confirmed to match the feeds then.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from loader import backup
from loader.db import read_only
from loader.errors import WarehouseUnavailable
from loader.integrity import not_a_warehouse

from . import runs


def last_success_age(db: Path) -> tuple[float | None, str | None]:
    """Seconds since the last successful refresh, and its time (None, None: never).

    Raises :class:`WarehouseUnavailable` when there is no warehouse or no ``pipeline_runs``.
    """
    with read_only(db, "start the refresh service") as con:
        last = runs.last_success(con)
    return (None, None) if last is None else (runs.seconds_since(last), last)


def newest_backup(folder: Path) -> str:
    """'newest backup 42 s ago (<file>)', or that there is none."""
    found = backup.backups(folder)
    if not found:
        return f"no backup yet in {folder}"
    age = (dt.datetime.now(dt.UTC) - backup.taken_at(found[-1])).total_seconds()
    return f"newest backup {age:.0f} s ago ({found[-1].name})"


def health(db: Path, max_age: float, backup_dir: Path | None = None) -> int:
    wrong = not_a_warehouse(db)
    if wrong:
        print(f"unhealthy: {wrong}", file=sys.stderr)
        return 1
    try:
        age, last = last_success_age(db)
    except WarehouseUnavailable as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    if age is None:
        print("unhealthy: no successful refresh yet", file=sys.stderr)
        return 1
    if age > max_age:
        print(
            f"unhealthy: last successful refresh {age:.0f} s ago ({last}), more than {max_age:.0f} s",
            file=sys.stderr,
        )
        return 1
    print(
        f"healthy: last successful refresh {age:.0f} s ago ({last}); "
        f"{newest_backup(backup_dir or backup.default_dir(db))}"
    )
    return 0
