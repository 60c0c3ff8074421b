"""The deliverables read from the warehouse: synthesis sheet, data profile, schema doc, headline."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, dbt_target, query, scalar

from report import fmt

PNG = b"\x89PNG\r\n\x1a\n"


def run(module: str, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_french_formatting() -> None:
    assert fmt.euros(5268.78) == "5\u202f268,78\u00a0€"
    assert fmt.euros(0.005) == "0,01\u00a0€"
    assert fmt.percent(0.318819) == "31,9\u00a0%"
    assert fmt.date("2023-05-27") == "27 mai 2023"
    assert fmt.number(None) == "-"


def test_synthesis_sheet_in_french_with_charts_and_the_marts_figures(
    demo_warehouse: Path, tmp_path: Path
) -> None:
    run("report", "--db", str(demo_warehouse), "--out", str(tmp_path))
    sheet = (tmp_path / "fiche_synthese.md").read_text(encoding="utf-8")
    total, units, count, first, last, orphans = query(
        demo_warehouse,
        "select total_revenue, total_units, sales_count, first_sale_date, last_sale_date, orphan_sales_count "
        "from mart_revenue_total",
    )[0]
    for text in ("# Fiche synthèse des ventes", "Chiffre d'affaires total", fmt.euros(total), fmt.number(units),
                 fmt.number(count), f"du {fmt.date(first)} au {fmt.date(last)}", "Ventes par produit",
                 "Ventes par ville", "Ventes par magasin", "Évolution dans le temps", "Couverture du stock"):  # fmt: skip
        assert text in sheet, text
    best_product = scalar(demo_warehouse, "select product_name from mart_sales_by_product where rank = 1")
    best_city = scalar(demo_warehouse, "select city from mart_sales_by_city where rank = 1")
    assert f"**{best_product}** est le produit le plus rentable" in sheet
    assert f"**{best_city}** mène les villes" in sheet
    assert re.search(r"Tendance (en hausse|en baisse|stable)", sheet)
    assert f"{fmt.number(orphans)} ventes citent un produit ou un magasin absent" in sheet
    assert "à partir des données chargées le" in sheet and "Sources :" in sheet
    for chart in ("ca_par_produit.png", "ca_par_ville.png", "ca_journalier.png"):
        assert f"(fiche_synthese/{chart})" in sheet
        data = (tmp_path / "fiche_synthese" / chart).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, chart


def test_data_profile_qualifies_every_feed(demo_warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "data_profile.md"
    run("report.profile", "--db", str(demo_warehouse), "--out", str(out))
    text = out.read_text(encoding="utf-8")
    for section in ("## sales (`raw_sales`)", "## products (`raw_products`)", "## stores (`raw_stores`)"):
        assert section in text
    assert "| `raw_date` | date (ISO) |" in text
    assert "| `raw_quantity` | integer |" in text
    assert "| `raw_price` | decimal |" in text
    rejected = scalar(demo_warehouse, "select count(*) from loader_rejects where feed = 'sales'")
    assert rejected == 8 and f"Rejected rows: {rejected}." in text
    assert "wrong column count" in text and "not positive" in text
    assert "Sales citing unknown products: 2" in text and "Sales citing unknown stores: 2" in text
    assert "Identical lines:" in text and "days without any sale" in text
    assert "The `Quantité` field exactly as received." in text  # meanings come from the dbt sources


def test_database_doc_is_generated_with_every_model_and_relationship(
    demo_warehouse: Path, tmp_path: Path
) -> None:
    out = tmp_path / "database.md"
    target = dbt_target(demo_warehouse)
    run(
        "report.schema_doc",
        "--db",
        str(demo_warehouse),
        "--manifest",
        str(target / "manifest.json"),
        "--out",
        str(out),
    )
    text = out.read_text(encoding="utf-8")
    manifest = json.loads((target / "manifest.json").read_text())
    models = [n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    for name in [*models, "raw_sales", "raw_products", "raw_stores", "loader_runs", "loader_rejects"]:
        assert f"    {name} {{" in text, f"{name} missing from the ER diagram"
    assert 'dim_products ||--o{ fct_sales : "product_id"' in text
    assert 'loader_runs ||--o{ raw_sales : "load_run_id"' in text
    assert "        text sale_id PK" in text
    assert (tmp_path / "database.dot").read_text().startswith("digraph warehouse")


def test_committed_database_doc_lists_every_model_of_the_project() -> None:
    """docs/database.md is generated: regenerate it (make docs) when a model is added."""
    text = (ROOT / "docs" / "database.md").read_text(encoding="utf-8")
    models = sorted(p.stem for p in (ROOT / "dbt_project" / "models").rglob("*.sql"))
    missing = [m for m in models if f"    {m} {{" not in text]
    assert not missing, f"docs/database.md is stale, missing {missing}: run make docs"


def test_committed_synthesis_sheet_is_made_from_the_clients_data() -> None:
    sheet = (ROOT / "docs" / "fiche_synthese.md").read_text(encoding="utf-8")
    assert fmt.euros(5268.78) in sheet  # the client's snapshot: 30 sales, 122 units
    assert "du 27 mai 2023 au 25 juin 2023" in sheet
    for chart in ("ca_par_produit.png", "ca_par_ville.png", "ca_journalier.png"):
        assert (ROOT / "docs" / "fiche_synthese" / chart).read_bytes().startswith(PNG)


def test_headline(demo_warehouse: Path) -> None:
    out = run("report.headline", "--db", str(demo_warehouse)).stdout
    total = scalar(demo_warehouse, "select total_revenue from mart_revenue_total")
    assert fmt.euros(total) in out and "top products" in out
