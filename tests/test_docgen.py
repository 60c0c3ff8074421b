"""The documentation generators: data profile and database schema, generated and committed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, dbt_target, run_module, scalar

# every test here builds the dbt project: part of `make test`, left out of the quick subset
pytestmark = pytest.mark.slow


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
    graph = (tmp_path / "database.dot").read_text()
    assert graph.startswith("digraph warehouse")
    drawn = set(re.findall(r"^    (\w+) \[label=<", graph, re.M))  # tables drawn inside a layer's box
    linked = {name for edge in re.findall(r"^  (\w+ -> \w+)", graph, re.M) for name in edge.split(" -> ")}
    assert linked <= drawn, linked - drawn  # no table appears as a bare label
    assert text.count("```mermaid") == 3  # one ER diagram per group of layers, not 30 tables in a row


def test_committed_database_doc_lists_every_model_of_the_project() -> None:
    """docs/database.md is generated: regenerate it (make docs) when a model is added."""
    text = (ROOT / "docs" / "database.md").read_text(encoding="utf-8")
    models = sorted(p.stem for p in (ROOT / "dbt_project" / "models").rglob("*.sql"))
    missing = [m for m in models if f"    {m} {{" not in text]
    assert not missing, f"docs/database.md is stale, missing {missing}: run make docs"


def test_every_link_to_a_heading_in_the_docs_resolves() -> None:
    def slug(heading: str) -> str:  # GitHub's anchors: lower case, punctuation dropped, spaces to -
        return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")

    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", page.read_text(encoding="utf-8")):
            linked = (page.parent / target) if target else page
            headings = re.findall(r"^#+ (.*)$", linked.read_text(encoding="utf-8"), re.M)
            if anchor not in {slug(h) for h in headings}:
                broken.append(f"{page.name}: {target}#{anchor}")
    assert broken == []


@pytest.mark.slow
def test_make_docs_is_reproducible_and_keeps_the_schema_image_without_graphviz(tmp_path: Path) -> None:
    """`make docs` twice gives the same files, the second time with no Graphviz on PATH: the
    committed schema image is kept and still shown; and what it writes is what docs/ holds."""
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(ROOT / "docs" / "database.svg", docs)  # as a clone has it
    texts = ("fiche_synthese.md", "data_profile.md", "database.md", "database.dot")

    def publish(path: str) -> dict[str, str]:
        proc = subprocess.run(
            [sys.executable, "-m", "docgen.publish", "--docs", str(docs), "--work", str(tmp_path / "work")],
            cwd=ROOT, env={**os.environ, "PATH": path}, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        return {name: (docs / name).read_text(encoding="utf-8") for name in texts}

    first = publish(os.environ["PATH"])
    svg = (docs / "database.svg").read_bytes()
    second = publish(str(Path(sys.executable).parent))  # no `dot` there
    assert second == first
    assert (docs / "database.svg").read_bytes() == svg
    assert "![Database schema](database.svg)" in second["database.md"]
    assert (
        "127.0.0.1" not in second["data_profile.md"] and "tests/fixtures" not in second["fiche_synthese.md"]
    )
    stale = [name for name in texts if (ROOT / "docs" / name).read_text(encoding="utf-8") != first[name]]
    assert stale == [], f"docs/ is not what `make docs` writes: run make docs ({stale})"
