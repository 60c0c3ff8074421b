"""Issue 19, class 9: bounded resources.

A compressed body is bounded while it is decompressed (a gzip bomb is refused with flat memory),
and the download folders of a loader killed without cleaning up are removed at the next start.
(A NUL byte anywhere: the ``nul-byte-*`` cases of test_faults.py; the storage service's temporary
files: test_commands.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

from helpers import SALES_HEADER, FeedServer, query

from pipeline.dbt_runner import ROOT


def gzip_of_zeros(megabytes: int) -> bytes:
    """A gzip stream that inflates to ``megabytes`` MiB (about 1,000 times its size)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = SALES_HEADER.encode() + b"\r\n" + b"\x30" * ((1 << 20) - len(SALES_HEADER) - 2)
    out = [packer.compress(block)]
    zeros = b"0" * (1 << 20)
    out += [packer.compress(zeros) for _ in range(megabytes - 1)]
    out.append(packer.flush())
    return b"".join(out)


PEAK_OF_CHILD = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
print("peak_kib=%d" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def test_a_gzip_bomb_is_refused_with_flat_memory(server: FeedServer, tmp_path: Path) -> None:
    bomb = gzip_of_zeros(400)  # 400 MiB once inflated, under half a megabyte on the wire
    assert len(bomb) < (1 << 20)
    url = server.serve("/sales.csv", bomb)
    server.routes["/sales.csv"].faults = ["gzip-as-is"]
    # the loader runs under a fresh process that reports its children's peak memory: this test
    # process's own children (dbt, in an earlier test of the same worker) do not count
    done = subprocess.run(
        [sys.executable, "-c", PEAK_OF_CHILD, sys.executable, "-m", "loader", "--db", str(tmp_path / "w.db"),
         "--only", "sales", "--sales", url, "--max-bytes", "5000000", "--retries", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    peak_mib = int(done.stderr.rsplit("peak_kib=", 1)[1]) / 1024
    assert done.returncode == 1 and "--max-bytes, counted decompressed" in done.stdout + done.stderr, (
        done.stderr
    )
    assert query(tmp_path / "w.db", "select count(*) from raw_sales") == [(0,)]
    # the loader's whole process stays far below the bomb: it never holds more than a chunk of it
    assert peak_mib < 200, f"peak {peak_mib:.0f} MiB"


def test_the_folders_of_a_killed_loader_are_removed_at_the_next_start(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)  # a process that has exited: its pid names no live process now
    abandoned = temp / f"ventes-loader-{dead_pid}-abc123"
    (abandoned / "sales.csv").parent.mkdir()
    (abandoned / "sales.csv").write_bytes(b"x" * 1000)
    live = temp / f"ventes-loader-{os.getpid()}-def456"  # this test's own pid: alive
    live.mkdir()
    other = temp / "someone-else"
    other.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "loader", "--db", str(tmp_path / "w.db"), "--from-dir",
         str(ROOT / "tests" / "fixtures" / "client_data")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "TMPDIR": str(temp)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not abandoned.exists() and live.exists() and other.exists()
    assert sorted(p.name for p in temp.iterdir()) == sorted(
        [live.name, other.name]
    )  # its own folder gone too
    assert tempfile.gettempdir() != str(temp)  # (the test's own temporary folder is untouched)
