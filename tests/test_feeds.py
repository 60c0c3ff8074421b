"""The feed declarations: header matching, and everything derived from one declaration."""

from __future__ import annotations

import pytest

from loader.errors import HeaderError
from loader.feeds import PRODUCTS, SALES, map_header, normalise_header


def test_header_matching_ignores_case_accents_and_punctuation() -> None:
    assert normalise_header(" ID Référence_produit ") == "id reference produit"
    assert map_header(SALES, ["QUANTITE", "date", "id magasin", "Id Reference Produit", "extra"]) == {
        "date": 1,
        "product_ref": 3,
        "quantity": 0,
        "store_id": 2,
    }
    with pytest.raises(HeaderError, match="missing column 'Prix'"):
        map_header(PRODUCTS, ["Nom", "ID Référence produit", "Stock"])


def test_each_feed_is_declared_once_and_the_rest_derives_from_it() -> None:
    """No published header is written outside loader/feeds.py; DDL and inserts follow it."""
    from helpers import ROOT

    from loader.feeds import FEEDS
    from loader.schema import DDL
    from loader.versions import insert_statement

    # the identifying headers (plain words such as "Date" or "Ville" also label the client's report)
    headers = {c.header for spec in FEEDS for c in spec.columns if " " in c.header}
    sources = [
        p
        for folder in ("loader", "report", "docgen", "pipeline", "bench")
        for p in (ROOT / folder).rglob("*.py")
        if p.name != "feeds.py"
    ]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        written = [h for h in headers if f'"{h}' in text or f"'{h}" in text]
        assert not written, (
            f"{path.relative_to(ROOT)} writes feed headers {written}: derive them from loader.feeds"
        )
    for spec in FEEDS:
        assert spec.header_line.split(",") == [c.header for c in spec.columns]
        for column in spec.columns:
            assert f"{column.typed} " in DDL and f"{column.raw} " in DDL
            if spec.versioned:
                assert column.raw in insert_statement(spec)
