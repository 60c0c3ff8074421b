"""Remote faults: retries, failed feeds that change nothing, conditional GET, local sources."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import (
    SALES,
    SALES_HEADER,
    FeedServer,
    csv_body,
    run,
    scalar,
    snapshot,
)

from loader import LoadOptions


@pytest.mark.parametrize("fault", ["500", "503", "429", "reset"])
def test_transient_errors_are_retried(server: FeedServer, db: Path, fault: str) -> None:
    url = server.serve("/ventes.csv", csv_body(SALES_HEADER, SALES), faults=[fault, "ok"])
    result = run(db, sales=url)["sales"]
    assert (result.status, result.rows_inserted) == ("loaded", 3)
    assert server.hits["/ventes.csv"] == 2


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        (["500"] * 3, "HTTP 500 after 3 attempts"),
        (["slow"] * 3, "timed out"),
        (["truncate"] * 3, "truncated"),
        (["404"], "HTTP 404"),
        (["html"], "HTML page"),
    ],
)
def test_failed_feed_says_why_and_changes_nothing(
    server: FeedServer, db: Path, faults: list[str], message: str
) -> None:
    url = server.serve("/ventes.csv", csv_body(SALES_HEADER, SALES))
    run(db, sales=url)
    before = snapshot(db)
    server.routes["/ventes.csv"] = type(server.routes["/ventes.csv"])(
        body=csv_body(SALES_HEADER, [*SALES, "2023-06-01,REF001,1,1"]), faults=list(faults)
    )
    server.hits.clear()
    result = run(db, sales=url)["sales"]
    assert result.status == "failed"
    assert message in result.error, result.error
    assert snapshot(db) == before
    assert (
        scalar(db, "select status || ':' || (error is not null) from loader_runs order by run_id desc")
        == "failed:1"
    )
    if faults == ["404"] or faults == ["html"]:
        assert server.hits["/ventes.csv"] == 1  # not retried: retrying cannot help


def test_empty_body_and_missing_column_fail_with_a_message(server: FeedServer, db: Path) -> None:
    empty = server.serve("/empty.csv", b"")
    renamed = server.serve("/renamed.csv", csv_body("Date,Produit,Quantité,ID Magasin", SALES))
    results = run(db, sales=empty)
    assert "empty" in results["sales"].error
    result = run(db, sales=renamed)["sales"]
    assert "missing column 'ID Référence produit'" in result.error
    assert scalar(db, "select count(*) from raw_sales") == 0


def test_conditional_get_uses_the_etag_and_304_costs_nothing(server: FeedServer, db: Path) -> None:
    url = server.serve("/ventes.csv", csv_body(SALES_HEADER, SALES), etag='"v1"')
    first = run(db, sales=url)["sales"]
    assert first.etag == '"v1"'
    second = run(db, sales=url)["sales"]
    assert second.status == "unchanged"
    assert server.requests[-1][1].get("If-None-Match") == '"v1"'
    assert scalar(db, "select etag from loader_runs order by run_id desc") == '"v1"'
    # a new version of the sheet gets a new ETag and is loaded
    server.routes["/ventes.csv"].body = csv_body(SALES_HEADER, [*SALES, "2023-06-01,REF001,1,1"])
    server.routes["/ventes.csv"].etag = '"v2"'
    assert run(db, sales=url)["sales"].rows_inserted == 1


def test_local_path_and_file_url_sources(tmp_path: Path, db: Path) -> None:
    path = tmp_path / "ventes.csv"
    path.write_bytes(csv_body(SALES_HEADER, SALES))
    assert run(db, sales=str(path))["sales"].rows_inserted == 3
    assert run(db, LoadOptions(force=True), sales=path.as_uri())["sales"].rows_duplicate == 3
    missing = run(db, sales=str(tmp_path / "absent.csv"))["sales"]
    assert "file not found" in missing.error
