"""Issue 19, class 7: every command fails in one clear line.

A wrong ``--db`` (a folder, a file that is not SQLite, a place nothing can be written) or a
missing warehouse: each command says so in one line on stderr, exits 1, and prints no
traceback. Each case runs the real command in a child process.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.dbt_runner import ROOT

CLIENT = ROOT / "tests" / "fixtures" / "client_data"


def folder(tmp: Path) -> Path:
    (tmp / "warehouse.db").mkdir()
    return tmp / "warehouse.db"


def text_file(tmp: Path) -> Path:
    (tmp / "warehouse.db").write_text("Date,ID Référence produit,Quantité,ID Magasin\n")
    return tmp / "warehouse.db"


def unwritable(tmp: Path) -> Path:
    return Path("/proc/ventes-pme/warehouse.db")  # nothing can be created under /proc, even as root


def missing(tmp: Path) -> Path:
    return tmp / "none" / "warehouse.db"


@dataclass(frozen=True)
class Case:
    name: str
    db: Callable[[Path], Path]
    command: tuple[str, ...]  # module and arguments; --db is added
    says: str


LOAD = ("loader", "--from-dir", str(CLIENT))
RUN = ("pipeline", "run", "--from-dir", str(CLIENT), "--no-report")
WATCH = ("pipeline", "watch", "--from-dir", str(CLIENT), "--no-report", "--interval", "60")

CASES = [
    Case("loader-db-is-a-folder", folder, LOAD, "is a folder, not a SQLite file"),
    Case("loader-db-is-a-csv", text_file, LOAD, "is not a SQLite database"),
    Case("loader-folder-not-writable", unwritable, LOAD, "cannot open the warehouse"),
    Case("run-db-is-a-folder", folder, RUN, "is a folder, not a SQLite file"),
    Case("run-db-is-a-csv", text_file, RUN, "is not a SQLite database"),
    Case(
        "run-folder-not-writable", unwritable, RUN, "check that the warehouse's folder exists and is writable"
    ),
    Case("watch-db-is-a-folder", folder, WATCH, "is a folder, not a SQLite file"),
    Case(
        "watch-folder-not-writable",
        unwritable,
        WATCH,
        "check that the warehouse's folder exists and is writable",
    ),
    Case("serve-missing-warehouse", missing, ("pipeline", "serve"), "no warehouse at"),
    Case("serve-db-is-a-folder", folder, ("pipeline", "serve"), "is a folder, not a SQLite file"),
    Case("serve-db-is-a-csv", text_file, ("pipeline", "serve"), "is not a SQLite database"),
    Case("health-db-is-a-folder", folder, ("pipeline", "health"), "is a folder, not a SQLite file"),
    Case("health-db-is-a-csv", text_file, ("pipeline", "health"), "is not a SQLite database"),
    Case("health-missing-warehouse", missing, ("pipeline", "health"), "no warehouse at"),
    Case("backup-db-is-a-csv", text_file, ("pipeline", "backup"), "could not back up"),
    Case("export-parquet-missing-warehouse", missing, ("pipeline", "export-parquet"), "run the loader first"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_wrong_warehouse_is_one_line_and_exit_1(case: Case, tmp_path: Path) -> None:
    module, *args = case.command
    db = case.db(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", module, *args, "--db", str(db)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, (done.returncode, done.stderr[-800:])
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr[-800:]
    assert lines[0].startswith(("error: ", "unhealthy: ")) and case.says in lines[0], lines[0]


def test_serve_leaves_no_temporary_file(tmp_path: Path) -> None:
    """Class 9: the storage service writes nothing in the temporary folder (its metadata goes to
    Datasette in memory), so restarts do not pile files up."""
    import os
    import socket
    import time
    import urllib.request

    db, temp = tmp_path / "w.db", tmp_path / "tmp"
    temp.mkdir()
    loaded = subprocess.run([sys.executable, "-m", "loader", "--db", str(db), "--from-dir", str(CLIENT)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "serve", "--db", str(db), "--port", str(port)],
        cwd=ROOT, env={**os.environ, "TMPDIR": str(temp)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/tableau-de-bord", timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "the storage service never answered"
                time.sleep(0.3)
        assert b"Tableau de bord" in page  # the metadata (French titles, plugins' settings) reached Datasette
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert list(temp.iterdir()) == []
