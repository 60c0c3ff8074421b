"""Field parsers: numbers, counts, identifiers, dates, key parts."""

from __future__ import annotations

import pytest

from loader.errors import InvalidValue
from loader.values import key_part, parse_cents, parse_count, parse_date, parse_identifier


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("49.99", 4999),
        ("49,99", 4999),
        ("1 234,50", 123450),
        ("1.234,50", 123450),
        ("1,234.50", 123450),
        (" 0 ", 0),
        ("49,9", 4990),
        ("49,900", 4990),
        ("12", 1200),
        ("0.07", 7),
    ],
)
def test_prices_are_whole_cents(text: str, value: int) -> None:
    cents = parse_cents(text)
    assert cents == value and isinstance(cents, int)


@pytest.mark.parametrize("text", ["", "-1", "abc", "nan", "inf", "1,999", "0.001"])
def test_bad_prices(text: str) -> None:
    with pytest.raises(InvalidValue):
        parse_cents(text)


def test_a_fraction_of_a_cent_is_refused_with_its_reason() -> None:
    with pytest.raises(InvalidValue, match="fraction of a cent"):
        parse_cents("1,999")


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
    for space in (" ", "\u00a0", "\u202f", "\u2009", "\u2007", "\u2008", "\u200a"):
        assert parse_cents(f"1{space}299,00\u00a0€") == 129900, repr(space)
