"""What spreadsheet exports send (BOM, LF, semicolons, quoted fields, slash dates) loads the same."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import (
    FAST,
    SALES,
    SALES_HEADER,
    FeedServer,
    csv_body,
    query,
    run,
    sales_ids,
    scalar,
)

from loader import LoadOptions


@pytest.mark.parametrize(
    "body",
    [
        csv_body(SALES_HEADER, SALES, bom=True),
        csv_body(SALES_HEADER, SALES, newline="\n"),
        csv_body(SALES_HEADER, SALES, final=True),
        csv_body(SALES_HEADER, [s.replace(",", " , ") + "  " for s in SALES], final=True) + b"\r\n  \r\n\r\n",
        csv_body(SALES_HEADER.replace(",", ";"), [s.replace(",", ";") for s in SALES]),
        csv_body("DATE,id reference produit,quantite,ID_MAGASIN", SALES),
        csv_body(
            '"Date","ID Référence produit","Quantité","ID Magasin"',
            [f'"{s.replace(",", chr(34) + "," + chr(34))}"' for s in SALES],
        ),
        csv_body(SALES_HEADER, ["27/05/2023,REF001,5,1", "28/05/2023,REF002,3,2", "29/05/2023,REF003,2,1"]),
        csv_body(SALES_HEADER, ["5/27/2023,REF001,5,1", "5/28/2023,REF002,3,2", "5/29/2023,REF003,2,1"]),
    ],
    ids=["bom", "lf", "final-newline", "blanks", "semicolon", "header-case-accents", "quoted", "dmy", "mdy"],
)
def test_tolerated_inputs_give_the_same_sales(server: FeedServer, db: Path, body: bytes) -> None:
    url = server.serve("/ventes.csv", body)
    result = run(db, sales=url)["sales"]
    assert (result.status, result.rows_inserted, result.rows_rejected) == ("loaded", 3, 0), result
    assert sales_ids(db) == ["2023-05-27|REF001|1|5|1", "2023-05-28|REF002|2|3|1", "2023-05-29|REF003|1|2|1"]


def test_french_excel_products_with_semicolons_decimal_commas_and_quoted_commas(
    server: FeedServer, db: Path
) -> None:
    body = csv_body(
        "Nom;ID Référence produit;Prix;Stock",
        ['"Bol, grand modèle";REF001;"1 234,50";12', "Tasse;REF002;4,9;3"],
    )
    url = server.serve("/produits.csv", body)
    assert run(db, products=url)["products"].rows_inserted == 2
    assert query(db, "select product_name, price_cents from raw_products order by product_ref") == [
        ("Bol, grand modèle", 123450),
        ("Tasse", 490),
    ]


def test_ambiguous_slash_dates_fail_and_ask_for_date_format(server: FeedServer, db: Path) -> None:
    url = server.serve(
        "/ventes.csv", csv_body(SALES_HEADER, ["01/02/2023,REF001,1,1", "03/04/2023,REF001,1,1"])
    )
    result = run(db, sales=url)["sales"]
    assert result.status == "failed" and "--date-format" in result.error
    assert scalar(db, "select count(*) from raw_sales") == 0
    ok = run(db, LoadOptions(http=FAST, date_format="DD/MM/YYYY"), sales=url)["sales"]
    assert ok.rows_inserted == 2
    assert [r[0] for r in query(db, "select sale_date from raw_sales order by line_number")] == [
        "2023-02-01",
        "2023-04-03",
    ]
