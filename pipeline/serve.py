"""The storage service: Datasette over the warehouse, read-only, with the French dashboard.

``python -m pipeline serve`` is what the compose ``warehouse`` service runs, so a developer
gets exactly the client's view: the metadata (``datasette_site/metadata.yml``, French titles, hidden
internal tables), the plugins (``datasette_plugins/``: the dashboard and French cells, CSV
exports that cannot run as formulas), the templates (``datasette_site/templates/``) and the limits.
Datasette serves its own CSS; the dashboard has no script: nothing is fetched from outside.

The metadata names the database by its file name (``warehouse.db`` -> ``warehouse``); it is
written to a temporary file with the served database's name and the staleness threshold, then
Datasette replaces this process (``exec``), so signals and exit codes are Datasette's own.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import yaml

from loader.integrity import not_a_warehouse

ROOT = Path(__file__).resolve().parents[1]
METADATA = ROOT / "datasette_site" / "metadata.yml"
SETTINGS = {"sql_time_limit_ms": "5000", "max_returned_rows": "10000", "default_page_size": "50"}


def metadata(db: Path, stale_after: float, report_dir: Path | None = None) -> dict:
    """The metadata for serving ``db``: the template's tables under the database's name, the
    staleness threshold and the folder of the synthesis sheet (default: <warehouse folder>/report)."""
    data = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    data["databases"] = {Path(db).stem: data["databases"]["warehouse"]}
    data["plugins"]["ventes-pme"]["stale_after_seconds"] = stale_after
    data["plugins"]["ventes-pme"]["report_dir"] = str(
        Path(report_dir or Path(db).parent / "report").resolve()
    )
    # the dashboard says "the team is notified" of a failed refresh only when someone is
    data["plugins"]["ventes-pme"]["alerts_configured"] = bool(os.environ.get("ALERT_WEBHOOK_URL"))
    return data


def datasette_command(db: Path, host: str, port: int, metadata_file: Path) -> list[str]:
    command = [
        sys.executable, "-m", "datasette", "serve", str(db),
        "--host", host, "--port", str(port),
        "--metadata", str(metadata_file),
        "--plugins-dir", str(ROOT / "datasette_plugins"),
        "--template-dir", str(ROOT / "datasette_site" / "templates"),
    ]  # fmt: skip
    for name, value in SETTINGS.items():
        command += ["--setting", name, value]
    return command


def unservable(db: Path) -> str | None:
    """Why Datasette cannot serve ``db``, in one line (Datasette itself would print a traceback)."""
    if not db.exists():
        return f"no warehouse at {db}: run `make demo`, `python -m pipeline run` or the loader first"
    wrong = not_a_warehouse(db)
    if wrong:
        return wrong
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
            con.execute("select count(*) from sqlite_master").fetchone()
    except sqlite3.Error as exc:
        return f"cannot read the warehouse {db}: {exc} (restore a backup: python -m pipeline restore)"
    return None


def metadata_file(data: dict) -> Path:
    """The metadata as a file Datasette can open, leaving nothing on disk: an anonymous memory
    file (memfd) inherited by Datasette through exec, named by its /proc/self/fd path; it goes
    away with the process. Where there is no memfd (not Linux), a temporary file."""
    text = json.dumps(data, ensure_ascii=False).encode()
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("ventes-datasette-metadata.json", 0)  # no MFD_CLOEXEC: kept through exec
        os.write(fd, text)
        return Path(f"/proc/self/fd/{fd}")
    handle, name = tempfile.mkstemp(prefix="ventes-datasette-", suffix=".json")
    with os.fdopen(handle, "wb") as out:
        out.write(text)
    return Path(name)


def serve(
    db: Path, host: str, port: int, stale_after: float, wait: bool = False, report_dir: Path | None = None
) -> int:
    """Exec Datasette on ``db``; the dashboard warns when the data is older than ``stale_after`` s."""
    if wait and not db.is_file():
        print(
            f"waiting for the warehouse at {db} (the refresh service creates it)", file=sys.stderr, flush=True
        )
        while not db.is_file():
            time.sleep(1)
    problem = unservable(db)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    data = metadata(db, stale_after, report_dir)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = datasette_command(db, host, port, metadata_file(data))
    os.execve(command[0], command, env)
    return 0  # not reached: Datasette replaced this process
