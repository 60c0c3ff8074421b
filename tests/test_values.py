"""Field parsers and header matching."""

from __future__ import annotations

import pytest

from loader.feeds import PRODUCTS, SALES, HeaderError, map_header, normalise_header
from loader.occurrence import OccurrenceCounter, OutOfOrder
from loader.values import InvalidValue, key_part, parse_count, parse_date, parse_decimal, parse_identifier


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("49.99", 49.99),
        ("49,99", 49.99),
        ("1 234,50", 1234.5),
        ("1.234,50", 1234.5),
        ("1,234.50", 1234.5),
        (" 0 ", 0.0),
    ],
)
def test_decimals(text: str, value: float) -> None:
    assert parse_decimal(text) == value


@pytest.mark.parametrize("text", ["", "-1", "abc", "nan", "inf"])
def test_bad_decimals(text: str) -> None:
    with pytest.raises(InvalidValue):
        parse_decimal(text)


def test_counts_and_identifiers() -> None:
    assert parse_count("3", "quantity", 1) == 3
    assert parse_count("3,0", "quantity", 1) == 3
    assert parse_count("0", "stock", 0) == 0
    for bad in ("0", "1.5", "", "x"):
        with pytest.raises(InvalidValue):
            parse_count(bad, "quantity", 1)
    assert parse_identifier(" 007 ", "store id") == "7"
    assert parse_identifier("3.0", "store id") == "3"
    assert parse_identifier("A12", "store id") == "A12"


def test_dates() -> None:
    assert parse_date("2023-05-27", None) == "2023-05-27"
    assert parse_date("27/05/2023", "dmy") == "2023-05-27"
    assert parse_date("5/27/2023", "mdy") == "2023-05-27"
    with pytest.raises(InvalidValue, match="ambiguous"):
        parse_date("01/02/2023", None)
    with pytest.raises(InvalidValue):
        parse_date("2023-02-29", None)


def test_key_parts_cannot_collide() -> None:
    assert key_part("A|B") != key_part("A") and "|" not in key_part("A|B")
    assert key_part("a%7Cb") != key_part("a|b")


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


def test_occurrence_counter_evicts_old_dates_and_detects_disorder() -> None:
    counter = OccurrenceCounter(max_keys=2)
    assert [counter.next(k) for k in ("2023-01-01|a", "2023-01-01|a", "2023-01-02|b", "2023-01-03|c")] == [
        1,
        2,
        1,
        1,
    ]
    assert "2023-01-01|a" not in counter.counts  # evicted
    with pytest.raises(OutOfOrder):
        counter.next("2023-01-01|z")
    unbounded = OccurrenceCounter(max_keys=None)
    assert [unbounded.next(k) for k in ("2023-01-02|a", "2023-01-01|a", "2023-01-02|a")] == [1, 1, 2]
