"""The design card's dbt commands, typed as a user types them: `dbt run`, `dbt test`,
`dbt docs generate`, `dbt docs serve`, with the venv on PATH and no flag, at the repository root
and inside dbt_project/, with no ~/.dbt and no WAREHOUSE_DB (the default data/warehouse.db).

The project is copied as a clone has it (dbt_project.yml and profiles.yml at the root, the
sources and the profiles link in dbt_project/), so the default warehouse path resolves inside
the copy, never in the developer's data/.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import CLIENT_DATA, ROOT, load

pytestmark = pytest.mark.slow


def fresh_clone(where: Path) -> Path:
    """The dbt part of a fresh clone: the project file and profile at the root, the sources and
    their profile in dbt_project/, an empty data/ folder (a clone has it, not the warehouse)."""
    shutil.copy(ROOT / "dbt_project.yml", where)
    shutil.copy(ROOT / "profiles.yml", where)
    (where / "data").mkdir()
    shutil.copy(ROOT / "data" / ".gitkeep", where / "data")
    shutil.copytree(
        ROOT / "dbt_project",
        where / "dbt_project",
        symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return where


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone whose default warehouse holds the client's feeds, built by `dbt run` and
    documented by `dbt docs generate`, both typed at the root."""
    where = fresh_clone(tmp_path_factory.mktemp("clone"))
    load(where / "data" / "warehouse.db", CLIENT_DATA)
    for command in (("run",), ("docs", "generate")):
        result = typed(where, *command)
        assert result.returncode == 0, (command, result.stdout[-3000:])
    return where


def typed(folder: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``dbt <args>`` typed in ``folder`` with the venv activated: its bin/ first on PATH, HOME
    without a ~/.dbt, none of the variables make and the services set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBT_", "WAREHOUSE_DB"))}
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "HOME": str(folder.parent if folder.name == "dbt_project" else folder),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return subprocess.run(
        ["dbt", "--no-use-colors", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_on_an_empty_warehouse_dbt_says_to_run_the_loader_first(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path)
    result = typed(clone, "run")
    assert result.returncode != 0
    assert "has never been loaded: run the loader first" in result.stdout, result.stdout[-2000:]
    assert "no such table" not in result.stdout


def test_dbt_run_test_and_docs_work_as_typed_at_the_root_and_in_dbt_project(clone: Path) -> None:
    db = clone / "data" / "warehouse.db"
    for folder in (clone, clone / "dbt_project"):
        for command in ("run", "test"):
            result = typed(folder, command)
            assert result.returncode == 0, (folder, command, result.stdout[-3000:])
    assert not (clone / "dbt_project" / "data").exists()  # the default path is the root's, wherever typed
    assert sqlite3.connect(db).execute("select sales_count from mart_revenue_total").fetchone() == (30,)

    result = typed(clone / "dbt_project", "docs", "generate")
    assert result.returncode == 0, result.stdout[-3000:]
    catalog = json.loads((clone / "target" / "catalog.json").read_text())
    columns = catalog["nodes"]["model.ventes_pme.mart_sales_by_product"]["columns"]
    assert {name: c["type"].lower() for name, c in columns.items()} == _declared(db, "mart_sales_by_product")
    assert columns["revenue"]["type"].lower() == "real" and columns["product_id"]["type"].lower() == "text"


def test_dbt_docs_serve_as_typed_serves_the_site(clone: Path) -> None:
    port = _free_port()
    env_folder = clone / "dbt_project"
    process = subprocess.Popen(
        ["dbt", "--no-use-colors", "docs", "serve", "--port", str(port), "--no-browser"],
        cwd=env_folder,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("DBT_", "WAREHOUSE_DB"))},
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(clone),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        catalog = _get(f"http://127.0.0.1:{port}/catalog.json", deadline=60)
        assert "model.ventes_pme.fct_sales" in json.loads(catalog)["nodes"]
        assert b"<html" in _get(f"http://127.0.0.1:{port}/", deadline=5).lower()
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_every_mart_column_is_typed_in_the_warehouse(clone: Path) -> None:
    db = clone / "data" / "warehouse.db"
    con = sqlite3.connect(db)
    tables = [
        r[0]
        for r in con.execute(
            "select name from sqlite_master where type = 'table' and (name like 'mart%' or name like 'dim%' "
            "or name like 'fct%')"
        )
    ]
    assert "mart_sales_period_comparison" in tables and "mart_sales_by_weekday" in tables
    untyped = {t: [c for c, kind in _declared(db, t).items() if not kind] for t in tables}
    assert {t: cols for t, cols in untyped.items() if cols} == {}


def test_a_column_missing_from_the_yaml_fails_the_build_by_name(clone: Path) -> None:
    model = clone / "dbt_project" / "models" / "marts" / "mart_sales_by_weekday.sql"
    original = model.read_text()
    model.write_text(original.replace("select * from final", "select *, 1 as undeclared_column from final"))
    try:
        result = typed(clone, "run", "--select", "mart_sales_by_weekday")
    finally:
        model.write_text(original)
    assert result.returncode != 0
    assert "Not in the YAML: undeclared_column" in result.stdout, result.stdout[-2000:]


def _declared(db: Path, table: str) -> dict[str, str]:
    with sqlite3.connect(db) as con:
        return {r[1]: (r[2] or "").lower() for r in con.execute(f'pragma table_info("{table}")')}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, deadline: float) -> bytes:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read()
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.5)


def test_the_two_profiles_differ_only_by_where_the_default_paths_are_seen_from() -> None:
    import yaml

    root = yaml.safe_load((ROOT / "profiles.yml").read_text())
    inner = yaml.safe_load((ROOT / "dbt_project" / "profiles.yml").read_text())
    assert json.dumps(inner).replace("'../data/", "'data/") == json.dumps(root)
    assert "'../data/warehouse.db'" in json.dumps(inner)


def test_the_venvs_pytest_runs_the_tests_as_python_m_pytest_does() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "pytest"), "-q", "tests/test_values.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0 and "passed" in done.stdout, done.stdout[-2000:]
