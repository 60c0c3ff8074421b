"""Field parsers: numbers, counts, identifiers, dates, key parts."""

from __future__ import annotations

import pytest

from loader.errors import InvalidValue
from loader.values import key_part, parse_count, parse_date, parse_decimal, parse_identifier


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


def test_prices_with_every_space_people_paste_as_a_thousands_separator() -> None:
    from loader.values import parse_decimal

    for space in (" ", "\u00a0", "\u202f", "\u2009", "\u2007", "\u2008", "\u200a"):
        assert parse_decimal(f"1{space}299,00\u00a0€") == 1299.0, repr(space)
