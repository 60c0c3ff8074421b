"""The dbt documentation site, kept current: ``python -m pipeline docs``.

``dbt docs generate`` reads the warehouse's tables once (the catalog: columns, types, row
counts), and ``dbt docs serve`` serves that snapshot forever: a docs service started before the
first refresh showed 0 nodes until it was restarted. This service serves the site and generates
it again whenever a build finished since the last generation (a refresh's build, recorded in
``pipeline_runs``, or a ``dbt build`` typed by hand, which moves the build horizon).

The site is generated in a folder of its own, then its three files are renamed into the served
folder one by one: a reader never gets half a file. SIGTERM and Ctrl-C stop it at once (a
generation under way is terminated), exit 0: ``docker compose stop docs`` does not wait for
Docker's SIGKILL.
"""

from __future__ import annotations

import functools
import shutil
import signal
import sqlite3
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from loader.db import read_only
from loader.errors import WarehouseUnavailable

from .dbt_runner import DBT, ROOT, dbt_env
from .events import EventLog

SITE_FILES = ("index.html", "manifest.json", "catalog.json")


def build_marker(db: Path) -> tuple | None:
    """What changes when a build finishes: None while nothing was ever built."""
    try:
        with read_only(db, "run the loader first") as con:
            tables = {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")}
            refreshed = (
                con.execute("select max(run_id) from pipeline_runs where dbt_result = 'success'").fetchone()[
                    0
                ]
                if "pipeline_runs" in tables
                else None
            )
            horizon = (
                con.execute("select set_at from dbt_build_horizon").fetchone()
                if "dbt_build_horizon" in tables
                else None
            )
    except (WarehouseUnavailable, sqlite3.Error):
        return None
    if refreshed is None and horizon is None:
        return None
    return (refreshed, horizon)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # the healthcheck would be most of the log
        pass


class DocsSite:
    """Serves ``work/site`` and regenerates it after each build of ``db``."""

    def __init__(self, db: Path, work: Path, log: EventLog):
        self.db = Path(db).resolve()
        self.work = Path(work)
        self.site = self.work / "site"
        self.log = log
        self.stopping = threading.Event()
        self._child: subprocess.Popen | None = None
        self._marker: tuple | None = None

    def generate(self) -> bool:
        """``dbt docs generate`` into a scratch folder, then the files renamed into the site."""
        scratch = self.work / "generating"
        shutil.rmtree(scratch, ignore_errors=True)
        env = dbt_env(self.db, self.work)
        env["DBT_TARGET_PATH"] = str(scratch)
        command = [str(DBT), "--no-use-colors", "--quiet", "docs", "generate", "--project-dir", str(ROOT),
                   "--profiles-dir", str(ROOT)]  # fmt: skip
        self._child = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        output, _ = self._child.communicate()
        ok = self._child.returncode == 0 and all((scratch / name).is_file() for name in SITE_FILES)
        self._child = None
        if self.stopping.is_set():
            return False
        if not ok:
            self.log("docs_failed", detail=(output or "").strip()[-300:])
            return False
        self.site.mkdir(parents=True, exist_ok=True)
        for name in SITE_FILES:
            (scratch / name).replace(self.site / name)
        self.log("docs_generated", site=str(self.site))
        return True

    def poll(self) -> None:
        """Generate the site when a build finished since the last generation."""
        marker = build_marker(self.db)
        if marker is not None and marker != self._marker and self.generate():
            self._marker = marker

    def stop(self, *_args: object) -> None:
        self.stopping.set()
        child = self._child
        if child is not None and child.poll() is None:
            child.terminate()

    def serve(self, host: str, port: int, poll_seconds: float) -> int:
        self.site.mkdir(parents=True, exist_ok=True)
        if not (self.site / "index.html").exists():
            (self.site / "index.html").write_text(
                '<!doctype html><html lang="fr"><meta charset="utf-8"><title>Documentation</title>'
                "<p>La documentation apparaîtra après la première actualisation de l'entrepôt.</p></html>",
                encoding="utf-8",
            )
        handler = functools.partial(_QuietHandler, directory=str(self.site))
        server = ThreadingHTTPServer((host, port), handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.stop)
        self.log("docs_serving", url=f"http://{host}:{port}/", warehouse=str(self.db))
        try:
            while not self.stopping.is_set():
                self.poll()
                self.stopping.wait(poll_seconds)
        finally:
            server.shutdown()
            server.server_close()
        self.log("docs_stopped")
        return 0
