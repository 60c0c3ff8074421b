"""The dbt project, built for real with dbt-sqlite on warehouses the loader filled."""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from helpers import CLIENT_DATA, HISTORY_MODELS, dbt, dbt_target, load, model_names, model_rows, query, scalar

from loader.generate import generate

# every test here builds the dbt project: part of `make test`, left out of the quick subset
pytestmark = pytest.mark.slow


def snapshot(db: Path, models: list[str], with_metadata: bool = False) -> dict[str, list[tuple]]:
    if with_metadata:
        return {m: query(db, f'select * from "{m}" order by 1') for m in models}
    return {m: model_rows(db, m) for m in models}


def test_incremental_builds_equal_a_full_refresh_and_a_rebuild_without_news_changes_nothing(
    tmp_path: Path,
) -> None:
    feeds, db = tmp_path / "feeds", tmp_path / "incremental.db"
    generate(feeds, days=60, rows=20_000, seed=3)
    load(db, feeds)
    dbt(db, "build")
    first_sales = scalar(db, "select count(*) from fct_sales")

    # the live feed grows: later days, identical duplicate lines, unknown products and stores
    generate(feeds, days=10, rows=3_000, append=True, duplicates=20, orphans=6, malformed=4, seed=3)
    load(db, feeds)
    dbt(db, "build")
    assert scalar(db, "select count(*) from fct_sales") == first_sales + 3_020
    assert scalar(db, "select count(*) from fct_sales_orphans") == 6
    assert scalar(db, "select orphan_sales_count from mart_revenue_total") == 6

    # a product that was unknown appears, and a price changes: orphans move into the fact,
    # and sales loaded from now on take the new price
    rows = (feeds / "produits.csv").read_bytes().decode().split("\r\n")
    name, ref, price, stock = rows[1].split(",")
    rows[1] = f"{name},{ref},{float(price) + 10:.2f},{stock}"
    rows.append("Nouveau produit,REF900,9.90,12")
    (feeds / "produits.csv").write_bytes("\r\n".join(rows).encode())
    generate(feeds, days=3, rows=500, append=True, seed=3)
    load(db, feeds)
    dbt(db, "build")
    assert scalar(db, "select count(*) from fct_sales where product_id = 'REF900'") >= 1
    assert scalar(db, "select count(*) from fct_sales_orphans where product_id = 'REF900'") == 0
    prices = query(db, "select distinct unit_price from fct_sales where product_id = ? order by 1", (ref,))
    assert [p for (p,) in prices] == [float(price), round(float(price) + 10, 2)]

    models = model_names(db)
    assert len(models) >= 15
    compared = [m for m in models if m not in HISTORY_MODELS]

    # the same raw data built from scratch into a second warehouse gives the same models
    full = tmp_path / "full.db"
    shutil.copy(db, full)
    dbt(full, "build", "--full-refresh")
    incremental_rows, full_rows = snapshot(db, compared), snapshot(full, compared)
    for model in compared:
        assert incremental_rows[model] == full_rows[model], f"{model} differs after incremental builds"
    assert scalar(full, "select count(*) from mart_results_history") == 4  # kept by --full-refresh

    # building again with no new data changes nothing (the history gets its one row per run)
    before = snapshot(db, compared, with_metadata=True)
    dbt(db, "build")
    assert snapshot(db, compared, with_metadata=True) == before
    assert scalar(db, "select count(*) from mart_results_history") == 4


@pytest.fixture(scope="module")
def client_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CLIENT_DATA.is_dir():
        pytest.skip("client snapshot ../shared/client_data not present")
    db = tmp_path_factory.mktemp("client") / "client.db"
    load(db, CLIENT_DATA)
    dbt(db, "build")
    return db


def client_expectations() -> dict[str, dict]:
    """The client's figures computed straight from the CSV files, without SQL."""

    def read(name: str) -> list[dict[str, str]]:
        with (CLIENT_DATA / name).open(encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))

    prices = {p["ID Référence produit"]: float(p["Prix"]) for p in read("produits.csv")}
    cities = {s["ID Magasin"]: s["Ville"] for s in read("magasins.csv")}
    by_product: dict[str, float] = defaultdict(float)
    by_city: dict[str, float] = defaultdict(float)
    units = 0
    sales = read("ventes.csv")
    for sale in sales:
        revenue = int(sale["Quantité"]) * prices[sale["ID Référence produit"]]
        by_product[sale["ID Référence produit"]] += revenue
        by_city[cities[sale["ID Magasin"]]] += revenue
        units += int(sale["Quantité"])
    return {
        "total": {"revenue": sum(by_product.values()), "units": units, "sales": len(sales)},
        "by_product": by_product,
        "by_city": by_city,
    }


def test_client_snapshot_marts_give_the_clients_real_figures(client_warehouse: Path) -> None:
    expected = client_expectations()
    total = query(client_warehouse, "select total_revenue, total_units, sales_count from mart_revenue_total")[
        0
    ]
    assert round(total[0], 2) == round(expected["total"]["revenue"], 2) == 5268.78
    assert total[1:] == (expected["total"]["units"], expected["total"]["sales"]) == (122, 30)
    by_product = dict(query(client_warehouse, "select product_id, revenue from mart_sales_by_product"))
    assert {k: round(v, 2) for k, v in by_product.items()} == {
        k: round(v, 2) for k, v in expected["by_product"].items()
    }
    by_city = dict(query(client_warehouse, "select city, revenue from mart_sales_by_city"))
    assert {k: round(v, 2) for k, v in by_city.items()} == {
        k: round(v, 2) for k, v in expected["by_city"].items()
    }
    assert scalar(client_warehouse, "select sum(revenue_share) from mart_sales_by_city") == pytest.approx(1.0)
    assert scalar(client_warehouse, "select count(*) from mart_sales_daily") == 30
    assert scalar(client_warehouse, "select count(*) from fct_sales_orphans") == 0


def test_docs_catalog_lists_every_model_with_described_columns(client_warehouse: Path) -> None:
    dbt(client_warehouse, "docs", "generate")
    target = dbt_target(client_warehouse)
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    models = {k: n for k, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    assert len(models) >= 15
    for key, node in models.items():
        assert node["description"].strip(), f"{node['name']} has no description"
        assert key in catalog["nodes"], f"{node['name']} missing from catalog.json"
        columns = catalog["nodes"][key]["columns"]
        assert columns, f"{node['name']} has no columns in the catalog"
        for column in columns:
            described = node["columns"].get(column, {}).get("description", "")
            assert described.strip(), f"{node['name']}.{column} has no description"
            declared = node["columns"].get(column, {}).get("data_type")
            assert declared in ("text", "integer", "real"), f"{node['name']}.{column} declares no data_type"
    for source in (n for n in manifest["sources"].values()):
        assert source["description"].strip()
        assert all(c["description"].strip() for c in source["columns"].values())
        assert all(c.get("data_type") for c in source["columns"].values()), source["name"]
    assert any(e["name"] == "fiche_synthese" for e in manifest["exposures"].values())


def test_source_freshness_works_on_sqlite(client_warehouse: Path) -> None:
    dbt(client_warehouse, "source", "freshness")
    target = dbt_target(client_warehouse)
    results = json.loads((target / "sources.json").read_text())["results"]
    assert {r["unique_id"].split(".")[-1]: r["status"] for r in results} == {
        "raw_sales": "pass",
        "raw_products": "pass",
        "raw_stores": "pass",
        "loader_runs": "pass",
    }
    assert all(r["max_loaded_at"].startswith("20") for r in results)
