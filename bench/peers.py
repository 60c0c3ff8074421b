"""The peers of the loader benchmark, installed for it only (never in requirements.txt).

``sqlite-utils insert --csv`` (the usual one-liner) and dlt's ``merge`` on a ``sale_id`` into
SQLite, in a virtualenv of their own under bench/out/peers, created on first use. Each run is
a separate process; its peak memory is measured by :func:`measured` (the largest resident set
of the process tree, from ``getrusage`` in a small wrapper process).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

PEERS = ("sqlite-utils==4.2.1", "dlt[sqlalchemy]==1.31.0")
HERE = Path(__file__).resolve().parent

# run a command and report its peak memory: RUSAGE_CHILDREN's ru_maxrss is the largest
# resident set among the waited-for descendants, in KiB on Linux
_WRAPPER = (
    "import json, resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
    "print(json.dumps({'code': code, 'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))"
)


def measured(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak MiB of the largest process) of ``command``; fails loudly."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, *command], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    report = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {"code": -1}
    if report["code"] != 0:
        raise SystemExit(f"{' '.join(command)} failed: {proc.stderr[-2000:]}")
    return seconds, report["peak_mb"]


def install(folder: Path, packages: tuple[str, ...] = PEERS, what: str = "the peers") -> Path | None:
    """A virtualenv of ``packages`` (created once); None, with a note on stderr, when pip cannot install them."""
    python = folder / "bin" / "python"
    marker = folder / ".installed"
    if marker.exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *packages], capture_output=True, text=True
    )
    if proc.returncode != 0:
        print(
            f"note: {what} could not be installed, their rows are skipped: {proc.stderr[-500:]}",
            file=sys.stderr,
        )
        return None
    marker.touch()
    return python


def sqlite_utils(python: Path, db: Path, sales: Path) -> list[str]:
    return [str(python.parent / "sqlite-utils"), "insert", str(db), "sales", str(sales), "--csv"]


def dlt_merge(python: Path, db: Path, sales: Path, work: Path) -> list[str]:
    return [str(python), str(HERE / "peer_dlt.py"), str(sales), str(db), str(work / "dlt-pipelines")]
