"""The warehouse follows the sheet: edits, deletions, a rolling window, a broken sheet refused.

Each sequence serves the sales sheet over real HTTP on 127.0.0.1, loads it with the loader,
builds with dbt, and checks the raw tables, the audit counts and the marts against figures
computed here, independently, from the lines of the sheet: the live sales are the lines the
sheet lists now plus the lines that aged out of its window earlier.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from helpers import (
    FAST,
    PRODUCTS_HEADER,
    SALES_HEADER,
    STORES_HEADER,
    FeedServer,
    csv_body,
    dbt,
    query,
    run,
    scalar,
)
from test_dbt import HISTORY_MODELS, model_names, snapshot

from loader import LoadOptions
from loader.snapshots import SnapshotPolicy

# every test here builds the dbt project: part of `make test`, left out of the quick subset
pytestmark = pytest.mark.slow


PEERS = Path(__file__).resolve().parents[2] / "shared" / "peer_fixtures"
PRICES = {"REF001": 10.0, "REF002": 2.5, "REF003": 7.25}
PRODUCTS = [f"Produit {ref[-1]},{ref},{price:.2f},100" for ref, price in PRICES.items()]
STORES = ["1,Paris,10", "2,Lyon,5"]


def day(n: int) -> str:
    return f"2023-06-{n:02d}"


def base_sheet() -> list[str]:
    lines = []
    for d in range(1, 11):
        for i, ref in enumerate(PRICES):
            lines.append(f"{day(d)},{ref},{(d + i) % 5 + 1},{1 + (d + i) % 2}")
    lines.insert(5, lines[4])  # two identical lines: two sales
    return lines


class Sheet:
    """The sales sheet served over HTTP, and what the warehouse must say after each load."""

    def __init__(self, server: FeedServer, db: Path):
        self.server, self.db = server, db
        self.products = server.serve("/produits.csv", csv_body(PRODUCTS_HEADER, PRODUCTS))
        self.stores = server.serve("/magasins.csv", csv_body(STORES_HEADER, STORES))
        self.live: Counter[str] = Counter()  # the lines the warehouse must count
        self.aged: Counter[str] = Counter()  # lines gone from the window: still counted
        self.listed: list[str] = []

    def publish(self, lines: list[str], options: LoadOptions | None = None) -> dict:
        url = self.server.serve("/ventes.csv", csv_body(SALES_HEADER, lines))
        results = run(
            self.db, options or LoadOptions(http=FAST), products=self.products, stores=self.stores, sales=url
        )
        sales = results["sales"]
        if sales.ok:
            first = min(line[:10] for line in lines)
            gone = Counter(self.listed) - Counter(lines)
            self.aged += Counter({line: n for line, n in gone.items() if line[:10] < first})
            self.live = Counter(lines) + self.aged
            self.listed = list(lines)
        return sales.to_dict()

    def expected(self) -> tuple[float, int, int]:
        revenue = units = count = 0
        for line, n in self.live.items():
            _date, ref, quantity, _store = line.split(",")
            revenue += n * int(quantity) * PRICES[ref]
            units += n * int(quantity)
            count += n
        return round(revenue, 2), units, count

    def check_marts(self) -> None:
        dbt(self.db, "build")
        total, units, count = query(
            self.db, "select total_revenue, total_units, sales_count from mart_revenue_total"
        )[0]
        assert (round(total, 2), units, count) == self.expected()
        by_product = dict(query(self.db, "select product_id, units_sold from mart_sales_by_product"))
        expected_units: Counter[str] = Counter()
        for line, n in self.live.items():
            expected_units[line.split(",")[1]] += n * int(line.split(",")[2])
        assert {k: v for k, v in by_product.items() if v} == dict(expected_units)


def test_edits_deletions_window_shift_broken_sheet_and_reappearance(server: FeedServer, db: Path) -> None:
    sheet = Sheet(server, db)
    lines = base_sheet()
    first = sheet.publish(lines)
    assert (first["rows_inserted"], first["rows_retired"]) == (31, 0)
    sheet.check_marts()

    # someone corrects a quantity (line 8) and deletes a mistyped line (line 12)
    edited = list(lines)
    old_quantity = edited[7].split(",")[2]
    edited[7] = ",".join([*edited[7].split(",")[:2], "20", edited[7].split(",")[3]])
    deleted = edited.pop(11)
    step = sheet.publish(edited)
    assert (step["rows_inserted"], step["rows_retired"], step["rows_aged_out"]) == (1, 2, 0)
    sheet.check_marts()
    corrections = query(
        db, "select correction_type, quantity_before, quantity_after from mart_sales_corrections order by 1"
    )
    assert corrections == [("deletion", int(deleted.split(",")[2]), None), ("edit", int(old_quantity), 20)]
    assert scalar(db, "select count(*) from raw_sales") == 32  # history kept: nothing deleted

    # two identical lines reduced to one: exactly one sale retired
    pair = edited.index(lines[4])
    reduced = edited[:pair] + edited[pair + 1 :]
    step = sheet.publish(reduced)
    assert (step["rows_inserted"], step["rows_retired"]) == (0, 1)
    sheet.check_marts()

    # the sheet is a rolling window: its first two days go, two new days come
    shifted = [line for line in reduced if line[:10] > day(2)]
    shifted += [f"{day(11)},REF001,3,1", f"{day(12)},REF002,4,2", f"{day(12)},REF003,1,1"]
    step = sheet.publish(shifted)
    aged = sum(1 for line in reduced if line[:10] <= day(2))
    assert (step["rows_inserted"], step["rows_retired"], step["rows_aged_out"]) == (3, 0, aged)
    sheet.check_marts()  # the aged-out days are still counted

    # a half-published sheet (a few lines left) is refused and changes nothing
    before = query(db, "select count(*), (select count(*) from raw_sales_events) from raw_sales")
    step = sheet.publish(shifted[:3])
    assert step["status"] == "failed" and "retire 23 of the 26 sales" in step["error"]
    assert query(db, "select count(*), (select count(*) from raw_sales_events) from raw_sales") == before
    step = sheet.publish([])
    assert step["status"] == "failed"
    sheet.check_marts()

    # the deleted line comes back: restored, counted again
    step = sheet.publish([*shifted, deleted] if deleted[:10] > day(2) else [*shifted])
    if deleted[:10] > day(2):
        assert (step["rows_restored"], step["rows_inserted"]) == (1, 0)
    sheet.check_marts()

    # incremental builds all along == one full refresh of the same raw data
    full = db.parent / "full.db"
    shutil.copy(db, full)
    dbt(full, "build", "--full-refresh")
    compared = [m for m in model_names(db) if m not in HISTORY_MODELS]
    assert snapshot(db, compared) == snapshot(full, compared)


def test_append_only_policy_keeps_missing_sales(server: FeedServer, db: Path) -> None:
    sheet = Sheet(server, db)
    lines = base_sheet()
    sheet.publish(lines)
    keep = LoadOptions(http=FAST, snapshot=SnapshotPolicy(on_missing="keep"))
    step = sheet.publish(lines[:-1], keep)
    assert (step["status"], step["rows_retired"]) == ("loaded", 0)
    dbt(db, "build")
    assert scalar(db, "select sales_count from mart_revenue_total") == 31


def test_a_large_retirement_can_be_accepted_on_purpose(server: FeedServer, db: Path) -> None:
    sheet = Sheet(server, db)
    lines = base_sheet()
    sheet.publish(lines)
    step = sheet.publish(lines[:10], LoadOptions(http=FAST, snapshot=SnapshotPolicy(allow_retire=True)))
    assert step["status"] == "loaded" and step["rows_retired"] == 21


def test_own_id_column_a_changed_row_is_an_edit(server: FeedServer, db: Path) -> None:
    header = SALES_HEADER + ",N° vente"
    options = LoadOptions(http=FAST, sales_id_column="N° vente")
    products = server.serve("/p.csv", csv_body(PRODUCTS_HEADER, PRODUCTS))
    stores = server.serve("/s.csv", csv_body(STORES_HEADER, STORES))
    lines = [f"{day(d)},REF001,{d},1,V{d}" for d in range(1, 11)]
    url = server.serve("/v.csv", csv_body(header, lines))
    assert run(db, options, products=products, stores=stores, sales=url)["sales"].rows_inserted == 10
    lines[3] = f"{day(4)},REF001,40,1,V4"  # same id, quantity corrected
    server.serve("/v.csv", csv_body(header, lines))
    step = run(db, options, products=products, stores=stores, sales=url)["sales"]
    assert (step.rows_inserted, step.rows_retired) == (1, 1)
    dbt(db, "build")
    assert scalar(db, "select total_units from mart_revenue_total") == sum(range(1, 11)) - 4 + 40
    assert query(
        db, "select correction_type, quantity_before, quantity_after from mart_sales_corrections"
    ) == [("edit", 4, 40)]


@pytest.mark.skipif(not (PEERS / "ayurud-edit6").is_dir(), reason="../shared/peer_fixtures absent")
def test_peers_edit_sequence_ends_with_the_sheets_own_figures(server: FeedServer, db: Path) -> None:
    for name in ("ayurud-edit5", "ayurud-edit6"):
        folder = PEERS / name
        urls = {
            feed: server.serve(f"/{file}", (folder / file).read_bytes())  # one sheet, edited
            for feed, file in (
                ("products", "produits.csv"),
                ("stores", "magasins.csv"),
                ("sales", "ventes.csv"),
            )
        }
        assert all(r.ok for r in run(db, LoadOptions(http=FAST), **urls).values())
    dbt(db, "build")
    expected = json.loads((PEERS / "ayurud-edit6" / "expected.json").read_text())
    revenue, units = query(db, "select total_revenue, total_units from mart_revenue_total")[0]
    assert (f"{revenue:.2f}", units) == (expected["total_revenue"], expected["total_units"])
    assert scalar(db, "select count(*) from mart_sales_corrections where correction_type = 'edit'") == 1


def test_a_large_feed_with_one_percent_edited_or_deleted(
    server: FeedServer, db: Path, tmp_path: Path
) -> None:
    from loader.generate import generate

    feeds = tmp_path / "feeds"
    generate(feeds, days=60, rows=20_000, seed=9)
    urls = {f: server.serve(f"/{n}", (feeds / n).read_bytes()) for f, n in
            (("products", "produits.csv"), ("stores", "magasins.csv"), ("sales", "ventes.csv"))}  # fmt: skip
    assert run(db, LoadOptions(http=FAST), **urls)["sales"].rows_inserted == 20_000
    lines = (feeds / "ventes.csv").read_bytes().decode().split("\r\n")
    header, body = lines[0], lines[1:]
    edited = 0
    for i in range(150, len(body), 200):  # 1 %: every other one edited, the rest deleted
        date, ref, quantity, store = body[i].split(",")
        body[i] = f"{date},{ref},{int(quantity) + 100},{store}" if edited % 2 == 0 else ""
        edited += 1
    kept = [line for line in body if line]
    server.serve("/ventes.csv", "\r\n".join([header, *kept]).encode())
    step = run(db, LoadOptions(http=FAST), sales=urls["sales"])["sales"]
    assert step.rows_retired == edited and step.rows_inserted == (edited + 1) // 2
    dbt(db, "build")
    units = sum(int(line.split(",")[2]) for line in kept)
    assert scalar(db, "select total_units + orphan_units from mart_revenue_total") == units


def test_the_synthesis_sheet_tells_the_client_about_corrections(
    server: FeedServer, db: Path, tmp_path: Path
) -> None:
    from helpers import run_module

    sheet = Sheet(server, db)
    lines = base_sheet()
    sheet.publish(lines)
    edited = list(lines)
    date, ref, _quantity, store = edited[7].split(",")
    edited[7] = f"{date},{ref},9,{store}"  # a quantity corrected; and the last line deleted
    sheet.publish(edited[:-1])
    dbt(db, "build")
    run_module("report", "--db", str(db), "--out", str(tmp_path))
    text = (tmp_path / "fiche_synthese.md").read_text(encoding="utf-8")
    assert "1 ligne modifiée et 1 supprimée" in text and "mart\\_sales\\_corrections" not in text
    assert "`mart_sales_corrections`" in text
