"""Loading into a real SQLite file over real HTTP on 127.0.0.1: exactly once, versions, rejects."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import (
    CLIENT_DATA,
    FAST,
    PRODUCTS_HEADER,
    SALES,
    SALES_HEADER,
    STORES_HEADER,
    FeedServer,
    csv_body,
    query,
    run,
    sales_ids,
    scalar,
)

from loader import LoadOptions
from loader.forked import usable_cpus


def test_first_load_counts_and_values(server: FeedServer, db: Path) -> None:
    url = server.serve("/ventes.csv", csv_body(SALES_HEADER, SALES))
    result = run(db, sales=url)["sales"]
    assert (result.status, result.rows_read, result.rows_inserted, result.rows_duplicate) == (
        "loaded",
        3,
        3,
        0,
    )
    row = query(
        db,
        "select s.sale_id, sale_date, product_ref, store_id, quantity, raw_quantity, line_number, "
        "r.source, r.loaded_at, r.status from raw_sales s join loader_runs r on r.run_id = s.load_run_id "
        "order by line_number limit 1",
    )[0]
    assert row[:8] == ("2023-05-27|REF001|1|5|1", "2023-05-27", "REF001", "1", 5, "5", 2, url)
    assert row[8].endswith("Z") and row[8][10] == "T"
    assert row[9] == "loaded"


def test_reload_of_unchanged_feed_inserts_nothing_and_is_reported_unchanged(
    server: FeedServer, db: Path
) -> None:
    url = server.serve("/ventes.csv", csv_body(SALES_HEADER, SALES))
    run(db, sales=url)
    again = run(db, sales=url)["sales"]
    assert (again.status, again.rows_inserted) == ("unchanged", 0)
    forced = run(db, LoadOptions(http=FAST, force=True), sales=url)["sales"]
    assert (forced.status, forced.rows_read, forced.rows_inserted, forced.rows_duplicate) == (
        "loaded",
        3,
        0,
        3,
    )
    assert scalar(db, "select count(*) from raw_sales") == 3
    statuses = [r[0] for r in query(db, "select status from loader_runs order by run_id")]
    assert statuses == ["loaded", "unchanged", "loaded"]


def test_appended_lines_only_are_inserted(server: FeedServer, db: Path) -> None:
    url = server.serve("/ventes.csv", csv_body(SALES_HEADER, SALES))
    run(db, sales=url)
    server.routes["/ventes.csv"].body = csv_body(
        SALES_HEADER, [*SALES, "2023-05-30,REF004,4,3", "2023-05-30,REF004,4,3"]
    )
    result = run(db, sales=url)["sales"]
    assert (result.rows_read, result.rows_inserted, result.rows_duplicate) == (5, 2, 3)
    assert sales_ids(db)[-2:] == ["2023-05-30|REF004|3|4|1", "2023-05-30|REF004|3|4|2"]


def test_identical_lines_in_one_file_are_distinct_sales(server: FeedServer, db: Path) -> None:
    lines = ["2023-06-01,REF001,2,1"] * 3 + ["2023-06-01,REF001,2,2"]
    url = server.serve("/ventes.csv", csv_body(SALES_HEADER, lines))
    assert run(db, sales=url)["sales"].rows_inserted == 4
    assert sales_ids(db) == [
        "2023-06-01|REF001|1|2|1",
        "2023-06-01|REF001|1|2|2",
        "2023-06-01|REF001|1|2|3",
        "2023-06-01|REF001|2|2|1",
    ]
    # the same file with one more identical line appended: only the 4th occurrence is new
    server.routes["/ventes.csv"].body = csv_body(SALES_HEADER, [*lines, "2023-06-01,REF001,2,1"])
    result = run(db, sales=url)["sales"]
    assert (result.rows_inserted, result.rows_duplicate) == (1, 4)
    assert "2023-06-01|REF001|1|2|4" in sales_ids(db)


def test_normalisation_makes_equivalent_lines_the_same_sale(server: FeedServer, db: Path) -> None:
    url = server.serve("/ventes.csv", csv_body(SALES_HEADER, ["2023-06-01,REF001,2,1"]))
    run(db, sales=url)
    server.routes["/ventes.csv"].body = csv_body(
        "date;id reference produit;QUANTITE;Id Magasin",
        ["01/06/2023 ; REF001 ;2,0;01", "13/06/2023;REF001;1;1"],
    )
    result = run(db, sales=url)["sales"]
    assert (result.rows_inserted, result.rows_duplicate) == (1, 1)


def test_sale_id_can_come_from_the_feed(server: FeedServer, db: Path) -> None:
    body = csv_body(
        "ID Vente," + SALES_HEADER,
        ["V1,2023-06-01,REF001,2,1", "V2,2023-06-01,REF001,2,1", "V1,2023-06-01,REF001,2,1"],
    )
    url = server.serve("/ventes.csv", body)
    result = run(db, LoadOptions(http=FAST, sales_id_column="id vente"), sales=url)["sales"]
    assert (result.rows_inserted, result.rows_duplicate) == (2, 1)
    # the feed's id, then the content: a row changed under the same id is a new sale (an edit)
    assert sorted(sales_ids(db)) == ["V1#2023-06-01|REF001|1|2", "V2#2023-06-01|REF001|1|2"]


def test_unordered_file_beyond_the_counter_budget_gets_the_same_ids(tmp_path: Path) -> None:
    lines = [f"2023-01-{d:02d},REF00{p},{q},1" for d in (3, 1, 2) for p in (1, 2, 3) for q in (1, 1, 2)]
    lines += ["2023-01-01,REF001,1,1", "2023-01-03,REF001,1,1"]  # back to evicted dates
    path = tmp_path / "ventes.csv"
    path.write_bytes(csv_body(SALES_HEADER, lines))
    small = run(tmp_path / "small.db", LoadOptions(occurrence_max_keys=4), sales=str(path))["sales"]
    big = run(tmp_path / "big.db", LoadOptions(occurrence_max_keys=None), sales=str(path))["sales"]
    assert small.rows_inserted == big.rows_inserted == len(lines)
    assert sales_ids(tmp_path / "small.db") == sales_ids(tmp_path / "big.db")
    assert "2023-01-01|REF001|1|1|3" in sales_ids(tmp_path / "small.db")


def test_product_price_change_creates_a_new_version(server: FeedServer, db: Path) -> None:
    v1 = ["Produit A,REF001,49.99,100", "Produit B,REF002,19.99,50"]
    url = server.serve("/produits.csv", csv_body(PRODUCTS_HEADER, v1))
    assert run(db, products=url)["products"].rows_inserted == 2
    server.routes["/produits.csv"].body = csv_body(PRODUCTS_HEADER, ["Produit A,REF001,54.99,100", v1[1]])
    changed = run(db, products=url)["products"]
    assert (changed.rows_inserted, changed.rows_duplicate) == (1, 1)
    server.routes["/produits.csv"].body = csv_body(PRODUCTS_HEADER, v1)  # back to the old price
    assert run(db, products=url)["products"].rows_inserted == 1
    prices = query(
        db, "select price_cents from raw_products where product_ref = 'REF001' order by version_id"
    )
    assert prices == [(4999,), (5499,), (4999,)]
    assert run(db, LoadOptions(http=FAST, force=True), products=url)["products"].rows_inserted == 0


def test_store_staff_change_is_versioned_and_conflicting_duplicates_rejected(
    server: FeedServer, db: Path
) -> None:
    url = server.serve("/magasins.csv", csv_body(STORES_HEADER, ["1,Paris,10", "2,Lyon,5"]))
    run(db, stores=url)
    server.routes["/magasins.csv"].body = csv_body(
        STORES_HEADER, ["1,Paris,11", "2,Lyon,5", "2,Lyon,5", "1,Paris,12"]
    )
    result = run(db, stores=url)["stores"]
    assert (result.rows_read, result.rows_inserted, result.rows_duplicate, result.rows_rejected) == (
        4,
        1,
        2,
        1,
    )
    reason = scalar(db, "select reason from loader_rejects")
    assert "listed twice" in reason and "line 2" in reason


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("2023-02-30,REF001,1,1", "invalid date"),
        ("pas une date,REF001,1,1", "invalid date"),
        ("2023-06-01,REF001,deux,1", "not a whole number"),
        ("2023-06-01,REF001,1.5,1", "not a whole number"),
        ("2023-06-01,REF001,0,1", "not positive"),
        ("2023-06-01,REF001,-2,1", "not positive"),
        ("2023-06-01,,1,1", "missing product reference"),
        ("2023-06-01,REF001,1,", "missing store id"),
        ("2023-06-01,REF001,1", "wrong column count"),
        ("2023-06-01,REF001,1,1,surplus", "wrong column count"),
    ],
)
def test_bad_sales_rows_are_rejected_with_a_reason(
    server: FeedServer, db: Path, line: str, reason: str
) -> None:
    url = server.serve("/ventes.csv", csv_body(SALES_HEADER, [SALES[0], line, SALES[1]]))
    result = run(db, sales=url)["sales"]
    assert (result.status, result.rows_read, result.rows_inserted, result.rows_rejected) == (
        "loaded",
        3,
        2,
        1,
    )
    rejects = query(db, "select run_id, feed, line_number, raw_line, reason from loader_rejects")
    assert rejects == [(result.run_id, "sales", 3, line, rejects[0][4])]
    assert reason in rejects[0][4]


def test_bad_product_and_store_rows_are_rejected(server: FeedServer, db: Path) -> None:
    products = server.serve(
        "/p.csv",
        csv_body(
            PRODUCTS_HEADER,
            ["A,REF001,-1,5", "B,REF002,abc,5", "C,REF003,1,-5", ",REF004,1,1", "E,REF005,2,3"],
        ),
    )
    stores = server.serve("/s.csv", csv_body(STORES_HEADER, ["1,Paris,dix", "2,,3", "3,Lyon,4"]))
    results = run(db, products=products, stores=stores)
    assert (results["products"].rows_inserted, results["products"].rows_rejected) == (1, 4)
    assert (results["stores"].rows_inserted, results["stores"].rows_rejected) == (1, 2)
    reasons = [r[0] for r in query(db, "select reason from loader_rejects order by reject_id")]
    assert reasons[0].startswith("negative price") and "invalid number" in reasons[1]
    assert "stock" in reasons[2] and "missing product name" in reasons[3]


@pytest.mark.skipif(not CLIENT_DATA.is_dir(), reason="client snapshot ../shared/client_data not present")
def test_client_snapshot_over_http(server: FeedServer, db: Path) -> None:
    urls = {
        feed: server.serve(f"/{name}", (CLIENT_DATA / name).read_bytes())
        for feed, name in (("sales", "ventes.csv"), ("products", "produits.csv"), ("stores", "magasins.csv"))
    }
    results = run(db, **urls)
    assert {f: (r.status, r.rows_inserted, r.rows_rejected) for f, r in results.items()} == {
        "sales": ("loaded", 30, 0),
        "products": ("loaded", 5, 0),
        "stores": ("loaded", 7, 0),
    }
    assert scalar(db, "select sum(quantity) from raw_sales") == 122  # awk -F, 'NR>1{s+=$3}'
    assert query(db, "select city, employees from raw_stores where store_id = '7'") == [("Strasbourg", 9)]


@pytest.mark.parametrize("start", ["fork", "spawn", "forkserver"])
def test_parser_process_gives_the_same_result_as_in_process(tmp_path: Path, start: str) -> None:
    """Large files are parsed in a child process, forked on Linux, spawned on macOS and Windows
    (forkserver: Python 3.14's Linux default): same ids, rejects and counts, same errors."""
    if usable_cpus() < 2:
        pytest.skip("one usable CPU: the parser is never run in a child process here")
    lines = [f"2023-01-{d:02d},REF00{p},{q},1" for d in (2, 1, 3) for p in (1, 2) for q in (1, 1, 2)]
    lines += ["bad,REF001,1,1", "2023-01-01,REF001,0,1", "2023-01-01,REF001,1"]
    path = tmp_path / "ventes.csv"
    path.write_bytes(csv_body(SALES_HEADER, lines))
    results = {}
    for name, options in {
        "in-process": LoadOptions(),
        "child": LoadOptions(parallel_min_bytes=0, parser_start=start),
        "child, tiny counter": LoadOptions(parallel_min_bytes=0, occurrence_max_keys=2, parser_start=start),
    }.items():
        db = tmp_path / f"{name}.db"
        result = run(db, options, sales=str(path))["sales"]
        rejects = query(db, "select line_number, reason from loader_rejects order by line_number")
        results[name] = (result.rows_read, result.rows_inserted, result.rows_rejected, sales_ids(db), rejects)
    assert results["in-process"] == results["child"] == results["child, tiny counter"]
    assert results["child"][2] == 3

    ambiguous = tmp_path / "ambiguous.csv"
    ambiguous.write_bytes(csv_body(SALES_HEADER, ["01/02/2023,REF001,1,1"]))
    options = LoadOptions(parallel_min_bytes=0, parser_start=start)
    failed = run(tmp_path / "a.db", options, sales=str(ambiguous))["sales"]
    assert failed.status == "failed" and "--date-format" in failed.error
