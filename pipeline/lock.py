"""One refresh at a time per warehouse: an exclusive ``flock`` on ``<warehouse>.refresh.lock``.

Two watchers (a second ``docker compose up``, a person's ``python -m pipeline run`` during the
service's refresh) would load and build the same warehouse twice at once. SQLite would keep the
data right (the loader is exactly-once, dbt builds wait for the write lock), but the work would
be done twice and the second dbt build would wait minutes for the first. The lock is taken
without waiting: the second process says who holds it and exits. The kernel releases a
``flock`` when its process dies, however it dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import AlreadyRunning


@contextlib.contextmanager
def single_instance(db: Path) -> Iterator[None]:
    # one lock per warehouse file, however it is named (a relative path, a symlink, `..`)
    path = Path(f"{Path(db).resolve()}.refresh.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise AlreadyRunning(
                f"a refresh of {db} is already running ({holder}, lock {path}): wait for it to end, "
                "or stop it (docker compose stop refresh) before starting another"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
