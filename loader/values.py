"""Parsing of individual field values, as French spreadsheet exports write them.

Every parser raises ``InvalidValue`` with a message fit for ``loader_rejects.reason``.
They are pure functions of the text, so the loader caches their results per distinct
value: a sales feed has few distinct dates, references and quantities, and a cache hit
is far cheaper than parsing again.
"""

from __future__ import annotations

import datetime as dt
import re

from .errors import InvalidValue

DATE_FORMATS = {
    "YYYY-MM-DD": "iso",
    "DD/MM/YYYY": "dmy",
    "MM/DD/YYYY": "mdy",
}

_SLASH_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_SPACES = str.maketrans("", "", " \u00a0\u202f'")


def parse_date(text: str, order: str | None) -> str:
    """Return the ISO date for ``text``; ``order`` ('dmy'/'mdy') decides slash dates."""
    value = text.strip()
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            raise InvalidValue(f"invalid date {text!r}") from None
    match = _SLASH_DATE.match(value)
    if not match:
        raise InvalidValue(f"invalid date {text!r} (expected YYYY-MM-DD or DD/MM/YYYY)")
    a, b, year = (int(g) for g in match.groups())
    if order is None:
        raise InvalidValue(f"date {text!r} is ambiguous: pass --date-format")
    day, month = (a, b) if order == "dmy" else (b, a)
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        raise InvalidValue(f"invalid date {text!r} for format {order.upper()}") from None


def slash_date_parts(text: str) -> tuple[int, int] | None:
    """The two leading numbers of a D/M/Y or M/D/Y date, or None when not a slash date."""
    match = _SLASH_DATE.match(text.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def parse_decimal(text: str) -> float:
    """Parse '49.99', '49,99', '1 234,50', '1.234,50'; reject empty and negative values."""
    value = text.strip().translate(_SPACES)
    if not value:
        raise InvalidValue("missing price")
    if "," in value:
        if "." in value and value.rfind(".") > value.rfind(","):
            value = value.replace(",", "")  # 1,234.50
        else:
            value = value.replace(".", "").replace(",", ".")  # 1.234,50 or 49,99
    try:
        number = float(value)
    except ValueError:
        raise InvalidValue(f"invalid number {text!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidValue(f"invalid number {text!r}")
    if number < 0:
        raise InvalidValue(f"negative price {text!r}")
    return number


def parse_count(text: str, what: str, minimum: int) -> int:
    """Parse a whole number (accepting '3.0' / '3,0' as spreadsheets write them) >= minimum."""
    value = text.strip().translate(_SPACES)
    if not value:
        raise InvalidValue(f"missing {what}")
    if not _INTEGER.match(value):
        whole, sep, frac = value.replace(",", ".").partition(".")
        if not (sep and _INTEGER.match(whole) and frac.strip("0") == "" and frac):
            raise InvalidValue(f"{what} {text!r} is not a whole number")
        value = whole
    number = int(value)
    if number < minimum:
        relation = "positive" if minimum == 1 else f">= {minimum}"
        raise InvalidValue(f"{what} {text!r} is not {relation}")
    return number


def parse_identifier(text: str, what: str) -> str:
    """Trim an identifier; whole numbers lose leading zeros and a '.0' suffix ('007' -> '7')."""
    value = text.strip()
    if not value:
        raise InvalidValue(f"missing {what}")
    if value.isdigit():
        return str(int(value))
    if value.endswith(".0") and value[:-2].isdigit():
        return str(int(value[:-2]))
    return value


def parse_text(text: str, what: str) -> str:
    """Trim a free-text field and collapse inner runs of whitespace."""
    value = " ".join(text.split())
    if not value:
        raise InvalidValue(f"missing {what}")
    return value


def key_part(value: str) -> str:
    """Escape the separator of composite keys so that 'A|B' + 'C' never equals 'A' + 'B|C'."""
    if "|" in value or "%" in value:
        return value.replace("%", "%25").replace("|", "%7C")
    return value
