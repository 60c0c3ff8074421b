"""The loader's command line: help, environment defaults, exit codes and messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import ROOT, SALES, SALES_HEADER, FeedServer, csv_body, spawn_loader

from loader.generate import generate


def test_rows_rejected_do_not_fail_the_cli_but_a_failed_feed_does(
    server: FeedServer, db: Path, capsys
) -> None:
    from loader.cli import main

    good = server.serve("/v.csv", csv_body(SALES_HEADER, [SALES[0], "bad,REF001,1,1"]))
    assert main(["--db", str(db), "--only", "sales", "--sales", good]) == 0
    out = capsys.readouterr().out
    assert "rejected       1" in out and "loader_rejects" in out
    missing = server.url("/nope.csv")
    assert main(["--db", str(db), "--only", "sales", "--sales", missing, "--retries", "0"]) == 1
    assert "FAILED" in capsys.readouterr().err


def test_cli_help_documents_every_option() -> None:
    out = subprocess.run([sys.executable, "-m", "loader", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0
    for option in (
        "--db",
        "--sales",
        "--products",
        "--stores",
        "--json",
        "--force",
        "--date-format",
        "--sales-id-column",
        "--from-dir",
        "WAREHOUSE_DB",
        "LOADER_SALES_URL",
        "exit status",
    ):
        assert option in out.stdout, option


def test_cli_defaults_come_from_the_environment(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    generate(feeds, days=10, rows=100)
    db = tmp_path / "env.db"
    env = {**os.environ, "WAREHOUSE_DB": str(db)}
    env.update(
        {
            f"LOADER_{k}_URL": str(feeds / n)
            for k, n in (("SALES", "ventes.csv"), ("PRODUCTS", "produits.csv"), ("STORES", "magasins.csv"))
        }
    )
    proc = spawn_loader("--json", env=env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["ok"] and summary["db"] == str(db)
    assert {f["feed"]: f["rows_inserted"] for f in summary["feeds"]} == {
        "products": 20,
        "stores": 7,
        "sales": 100,
    }


def test_cli_unreachable_source_exits_non_zero_with_a_message(tmp_path: Path) -> None:
    proc = spawn_loader(
        "--db",
        str(tmp_path / "w.db"),
        "--only",
        "sales",
        "--sales",
        "http://127.0.0.1:9/ventes.csv",
        "--retries",
        "0",
    )
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "FAILED" in err and "unreachable" in err
