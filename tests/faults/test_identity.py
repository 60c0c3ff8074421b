"""Issue 19, class 5: guards keyed on what the data is, not on how it is named.

The same sheet reached by its path, a file:// URL, a symlink, a relative path or a path with
`..`, and the same warehouse by a symlink or another spelling: the snapshot (deletions are
retired), the date-order guard and the one-refresh-per-warehouse lock hold for every spelling.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import SALES_HEADER, csv_body, query, run

from loader.load import LoadOptions
from pipeline.dbt_runner import ROOT
from pipeline.lock import single_instance

SALES = ["27/05/2023,REF001,5,1", "28/05/2023,REF002,3,2", "13/06/2023,REF003,2,3"]


def path_of(file: Path, tmp: Path) -> str:
    return str(file)


def file_url(file: Path, tmp: Path) -> str:
    return file.as_uri()


def symlink(file: Path, tmp: Path) -> str:
    link = tmp / "link-to-ventes.csv"
    link.symlink_to(file)
    return str(link)


def dotdot(file: Path, tmp: Path) -> str:
    return str(file.parent / ".." / file.parent.name / file.name)


def relative(file: Path, tmp: Path) -> str:
    return os.path.relpath(file)


SPELLINGS: list[Callable[[Path, Path], str]] = [file_url, symlink, dotdot, relative]


@pytest.mark.parametrize("spelling", SPELLINGS, ids=lambda f: f.__name__)
def test_a_deletion_is_retired_whatever_the_second_load_calls_the_sheet(spelling, tmp_path: Path) -> None:
    sheet = tmp_path / "feeds" / "ventes.csv"
    sheet.parent.mkdir()
    lines = [f"{day:02d}/05/2023,REF00{day % 3 + 1},{day},1" for day in range(13, 23)]
    sheet.write_bytes(csv_body(SALES_HEADER, lines))
    db = tmp_path / "w.db"
    assert run(db, LoadOptions(), sales=str(sheet))["sales"].rows_inserted == 10
    sheet.write_bytes(csv_body(SALES_HEADER, lines[:4] + lines[5:]))  # the 17 May line deleted
    second = run(db, LoadOptions(), sales=spelling(sheet, tmp_path))["sales"]
    assert second.status == "loaded" and second.rows_retired == 1, second
    assert query(db, "select count(distinct source) from loader_runs") == [(1,)]


@pytest.mark.parametrize("spelling", SPELLINGS, ids=lambda f: f.__name__)
def test_the_date_order_guard_holds_whatever_the_sheet_is_called(spelling, tmp_path: Path) -> None:
    sheet = tmp_path / "feeds" / "ventes.csv"
    sheet.parent.mkdir()
    sheet.write_bytes(csv_body(SALES_HEADER, SALES))  # 13/06: read as DD/MM/YYYY
    db = tmp_path / "w.db"
    assert run(db, LoadOptions(), sales=str(sheet))["sales"].status == "loaded"
    # the same sheet, now exported month first: reading it so would store every sale again
    sheet.write_bytes(
        csv_body(SALES_HEADER, ["05/27/2023,REF001,5,1", "05/28/2023,REF002,3,2", "06/13/2023,REF003,2,3"])
    )
    second = run(db, LoadOptions(), sales=spelling(sheet, tmp_path))["sales"]
    assert second.status == "failed" and "were read as DD/MM/YYYY until now" in second.error, second
    assert query(db, "select count(*) from raw_sales") == [(3,)]


def warehouse_symlink(db: Path, tmp: Path) -> Path:
    link = tmp / "link.db"
    link.symlink_to(db)
    return link


def warehouse_dotdot(db: Path, tmp: Path) -> Path:
    return db.parent / ".." / db.parent.name / db.name


@pytest.mark.parametrize("spelling", [warehouse_symlink, warehouse_dotdot], ids=lambda f: f.__name__)
def test_one_refresh_per_warehouse_whatever_it_is_called(spelling, tmp_path: Path) -> None:
    db = tmp_path / "data" / "warehouse.db"
    db.parent.mkdir()
    with single_instance(db):  # a refresh of the warehouse holds its lock
        other = subprocess.run(
            [sys.executable, "-m", "pipeline", "run", "--db", str(spelling(db, tmp_path)), "--no-report",
             "--from-dir", str(ROOT / "tests" / "fixtures" / "client_data")],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert other.returncode == 1 and "is already running" in other.stderr, other.stderr[-500:]
    assert not db.exists()  # the second refresh did not touch it


def test_from_dir_with_a_feeds_own_flag_does_what_the_readme_says(tmp_path: Path) -> None:
    """Class 11: `--from-dir DIR --sales PATH`: the sales from PATH (the operator's choice, read
    as given, even outside DIR), the products and stores from DIR (confined to it)."""
    feeds, elsewhere = tmp_path / "feeds", tmp_path / "elsewhere"
    feeds.mkdir()
    elsewhere.mkdir()
    client = ROOT / "tests" / "fixtures" / "client_data"
    for name in ("produits.csv", "magasins.csv", "ventes.csv"):
        (feeds / name).write_bytes((client / name).read_bytes())
    (elsewhere / "ventes.csv").write_bytes(csv_body(SALES_HEADER, ["27/05/2023,REF001,5,1"]))
    db = tmp_path / "w.db"
    done = subprocess.run(
        [sys.executable, "-m", "loader", "--db", str(db), "--from-dir", str(feeds), "--sales",
         str(elsewhere / "ventes.csv")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    sources = dict(query(db, "select feed, source from loader_runs"))
    assert sources["sales"] == str((elsewhere / "ventes.csv").resolve())
    assert sources["products"] == str((feeds / "produits.csv").resolve())
    assert query(db, "select count(*) from raw_sales") == [(1,)]
    # a link inside DIR is still refused: DIR is confined, the flag is not
    (feeds / "ventes.csv").unlink()
    (feeds / "ventes.csv").symlink_to(elsewhere / "ventes.csv")
    linked = subprocess.run(
        [sys.executable, "-m", "loader", "--db", str(db), "--from-dir", str(feeds), "--only", "sales"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert linked.returncode == 1 and "is a link or lies outside" in linked.stdout + linked.stderr
