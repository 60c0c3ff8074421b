"""The same dbt models on DuckDB and Spark give the marts SQLite gives, to the cent.

One warehouse is loaded (the client's feeds, then a generated sheet), built on every engine,
then the sheet changes (edits, deletions, a day whose every sale is deleted, new days, a price
change) and every engine builds incrementally, then from scratch: after each build every mart
of every engine equals SQLite's, row for row. DuckDB and Spark read the Parquet landing the
loader wrote (loader/parquet.py), SQLite its own tables.

`make engines-test` runs these (after `make engines` installed the adapters); `make test`
leaves them out (marker ``engines``). An engine whose adapter is not installed is skipped,
unless REQUIRE_ENGINES names it (CI: duckdb,spark), which makes it a failure.
"""

from __future__ import annotations

import datetime as dt
import decimal
import importlib.util
import math
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import load

from loader.feeds import PRODUCTS, SALES
from loader.generate import generate
from loader.load import LoadOptions
from pipeline.dbt_runner import ROOT, run_dbt

pytestmark = [pytest.mark.engines, pytest.mark.slow]  # minutes: make engines-test runs them

ENGINES = ("duckdb", "spark")
REQUIRED = {e.strip() for e in os.environ.get("REQUIRE_ENGINES", "").split(",") if e.strip()}
# every table the models build, but the history of results (one row per dbt invocation)
MARTS = sorted(
    p.stem
    for p in (ROOT / "dbt_project" / "models" / "marts").glob("*.sql")
    if p.stem != "mart_results_history"
)
VOLATILE = {"built_at", "horizon_run_id"}  # build metadata: which build wrote the row
CLIENT = ROOT / "tests" / "fixtures" / "client_data"


def missing(engine: str) -> str | None:
    """Why ``engine`` cannot run here, or None."""
    module = {"duckdb": "dbt.adapters.duckdb", "spark": "dbt.adapters.spark"}[engine]
    if importlib.util.find_spec("dbt.adapters") is None or importlib.util.find_spec(module) is None:
        return f"the {engine} adapter is not installed (make engines)"
    if engine == "spark" and shutil.which("java") is None:
        return "Spark needs Java (make engines installs Debian's openjdk-17-jre-headless)"
    return None


def normal(value: object) -> object:
    """A value as every engine can agree on it: numbers as floats (compared by :func:`same`),
    dates as ISO text."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10] if not isinstance(value, dt.datetime) else value.isoformat()
    return value


def rows_of(columns: list[str], rows: list[tuple]) -> list[tuple]:
    keep = sorted(c for c in columns if c not in VOLATILE)
    index = [columns.index(c) for c in keep]
    normalised = [tuple(normal(row[i]) for i in index) for row in rows]
    return [tuple(keep)] + sorted(
        normalised, key=lambda r: [str(round(v, 4)) if isinstance(v, float) else str(v) for v in r]
    )


def marts_of(con) -> dict[str, list[tuple]]:
    """Every mart read through a DB-API connection (sqlite3, duckdb), then closed."""
    try:
        out = {}
        for mart in MARTS:
            cursor = con.execute(f"select * from main.{mart}")
            out[mart] = rows_of([d[0] for d in cursor.description], cursor.fetchall())
        return out
    finally:
        con.close()


def sqlite_marts(db: Path) -> dict[str, list[tuple]]:
    return marts_of(sqlite3.connect(db))


def duckdb_marts(work: Path) -> dict[str, list[tuple]]:
    import duckdb

    return marts_of(duckdb.connect(str(work / "warehouse.duckdb"), read_only=True))


def spark_marts(work: Path) -> dict[str, list[tuple]]:
    """Spark's tables are Parquet folders (partitioned by day for the facts): read as Spark
    wrote them, partition folders included."""
    import pyarrow.dataset as ds

    out = {}
    for mart in MARTS:
        folder = work / "spark" / "warehouse" / "main.db" / mart
        table = ds.dataset(folder, format="parquet", partitioning="hive").to_table()
        columns = table.column_names
        rows = (
            list(zip(*(table.column(c).to_pylist() for c in columns), strict=True)) if table.num_rows else []
        )
        out[mart] = rows_of(columns, rows)
    return out


READERS = {"duckdb": duckdb_marts, "spark": spark_marts}


def build(db: Path, work: Path, target: str, *extra: str) -> None:
    done = run_dbt(db, work, "build", "--target", target, *extra)  # models, data tests, unit tests
    assert done.returncode == 0, (
        f"dbt build --target {target} failed:\n{done.stdout[-5000:]}\n{done.stderr[-2000:]}"
    )


def same(got: tuple, want: tuple) -> bool:
    """Equal rows; numbers within a millionth of a euro: money is exact to the cent on every
    engine (a wrong amount is a cent off at least), while averages and shares keep as many
    decimals as each engine's types give (Spark: an average of decimal(18, 2) has 6)."""
    return len(got) == len(want) and all(
        math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
        if isinstance(a, int | float) and isinstance(b, int | float)
        else a == b
        for a, b in zip(got, want, strict=True)
    )


def assert_same(expected: dict[str, list[tuple]], found: dict[str, list[tuple]], engine: str) -> None:
    for mart in MARTS:
        assert found[mart][0] == expected[mart][0], f"{engine}: {mart} has other columns"
        assert len(found[mart]) == len(expected[mart]), (
            f"{engine}: {mart} has {len(found[mart]) - 1} rows, SQLite {len(expected[mart]) - 1}"
        )
        for got, want in zip(found[mart][1:], expected[mart][1:], strict=True):
            assert same(got, want), f"{engine}: {mart} differs from SQLite:\n{engine}: {got}\nSQLite: {want}"


def change_the_sheet(feeds: Path) -> None:
    """Edits, deletions, a day whose sales are all deleted, appended days and a price change."""
    generate(feeds, days=3, rows=300, append=True, seed=11, start=dt.date(2024, 3, 1))
    lines = (feeds / SALES.file_name).read_bytes().decode("utf-8").split("\r\n")
    header, body = lines[0], [line for line in lines[1:] if line]
    days = sorted({line.split(",")[0] for line in body})
    middle = days[len(days) // 2]  # inside the sheet's dates: a deletion, not the rolling window
    kept = [line for line in body if line.split(",")[0] != middle]  # that day: every sale deleted
    del kept[5:15]  # ten lines deleted
    for i in (20, 40, 60):  # three quantities edited
        date, ref, _quantity, store = kept[i].split(",")
        kept[i] = f"{date},{ref},{97 + i},{store}"
    (feeds / SALES.file_name).write_bytes("\r\n".join([header, *kept, ""]).encode("utf-8"))
    products = (feeds / PRODUCTS.file_name).read_bytes().decode("utf-8").split("\r\n")
    name, ref, price, stock = products[1].split(",")
    products[1] = f"{name},{ref},{float(price) + 3.33:.2f},{stock}"
    (feeds / PRODUCTS.file_name).write_bytes("\r\n".join(products).encode("utf-8"))


@pytest.fixture(scope="module")
def landings(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The Parquet landing before and after the sheet changed, with SQLite's marts at each."""
    base = tmp_path_factory.mktemp("engines")
    db, sheet, work = base / "sqlite" / "warehouse.db", base / "sheet", base / "sqlite" / "dbt"
    landed = LoadOptions(parquet=db.parent / "parquet")
    db.parent.mkdir(parents=True)
    load(db, CLIENT, landed)
    generate(sheet, days=40, rows=4000, seed=5, start=dt.date(2024, 1, 20))
    load(db, sheet, landed)
    build(db, work, "sqlite")
    shutil.copytree(db.parent / "parquet", base / "first")
    first = sqlite_marts(db)
    change_the_sheet(sheet)
    load(db, sheet, landed)
    build(db, work, "sqlite")  # incremental
    shutil.copytree(db.parent / "parquet", base / "changed")
    emptied = (
        sqlite3.connect(db)
        .execute(
            "select count(distinct s.sale_date) from raw_sales_events as e inner join raw_sales as s "
            "on s.sale_id = e.sale_id where e.event = 'retired' "
            "and not exists (select 1 from fct_sales as f where f.sale_date = s.sale_date)"
        )
        .fetchone()[0]
    )
    assert emptied >= 1  # a day whose every sale was retired: the case day partitions miss
    return {"base": base, "first": (base / "first", first), "changed": (base / "changed", sqlite_marts(db))}


@pytest.mark.parametrize("engine", ENGINES)
def test_every_mart_equals_sqlites_full_incremental_and_full_again(landings: dict, engine: str) -> None:
    reason = missing(engine)
    if reason:
        if engine in REQUIRED:
            pytest.fail(f"REQUIRE_ENGINES names {engine}: {reason}")
        pytest.skip(reason)
    folder = landings["base"] / engine
    db, work, read = folder / "warehouse.db", folder / "dbt", READERS[engine]  # the engine reads parquet/
    for step, extra in (("first", ()), ("changed", ()), ("changed", ("--full-refresh",))):
        landing, expected = landings[step]
        shutil.rmtree(folder / "parquet", ignore_errors=True)
        shutil.copytree(landing, folder / "parquet")
        build(db, work, engine, *extra)  # from nothing, incremental, then from nothing again
        assert_same(expected, read(work), f"{engine} ({step}{' '.join(('', *extra))})")


def test_dbt_build_target_duckdb_as_a_user_types_it(tmp_path: Path) -> None:
    """After `make engines`: the loader lands Parquet beside the warehouse, and `dbt build
    --target duckdb` typed at the repository root finds it from WAREHOUSE_DB alone."""
    reason = missing("duckdb")
    if reason:
        if "duckdb" in REQUIRED:
            pytest.fail(f"REQUIRE_ENGINES names duckdb: {reason}")
        pytest.skip(reason)
    db = tmp_path / "warehouse.db"
    env = {k: v for k, v in os.environ.items() if k not in ("PARQUET_DIR", "DBT_TARGET")}
    env.update(WAREHOUSE_DB=str(db), DUCKDB_PATH=str(tmp_path / "warehouse.duckdb"),
               DBT_TARGET_PATH=str(tmp_path / "target"), DBT_LOG_PATH=str(tmp_path / "logs"))  # fmt: skip
    loaded = subprocess.run([sys.executable, "-m", "loader", "--from-dir", str(CLIENT)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert loaded.returncode == 0 and (tmp_path / "parquet" / "raw_sales").is_dir(), loaded.stderr
    built = subprocess.run([str(Path(sys.executable).parent / "dbt"), "build", "--target", "duckdb"], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:]
    assert "ERROR=0" in built.stdout and "PASS=" in built.stdout
    fresh = subprocess.run([str(Path(sys.executable).parent / "dbt"), "source", "freshness", "--target", "duckdb"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert fresh.stdout.count(" PASS freshness of ") + fresh.stdout.count(" WARN freshness of ") == 4, (
        fresh.stdout[-2000:]
    )
