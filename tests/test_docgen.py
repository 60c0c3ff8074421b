"""The documentation generators: data profile and database schema, generated and committed."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import ROOT, dbt_target, run_module, scalar


def test_data_profile_qualifies_every_feed(demo_warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "data_profile.md"
    run_module("docgen.profile", "--db", str(demo_warehouse), "--out", str(out))
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
    run_module(
        "docgen.schema_doc",
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
