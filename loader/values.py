"""Parsing of individual field values, as French spreadsheet exports write them.

Every parser raises ``InvalidValue`` with a message fit for ``loader_rejects.reason``.
They are pure functions of the text, so the loader caches their results per distinct
value: a sales feed has few distinct dates, references and quantities, and a cache hit
is far cheaper than parsing again (the plausibility checks below cost nothing per row).

Only values a business can have are accepted (:class:`Limits`, each configurable with
``--limit NAME=VALUE``): ASCII digits only (``int()`` would take '٣' or full-width digits),
plain decimals (no exponent, underscore, infinity or NaN; a euro sign and French thousands
spaces are fine), sale dates inside a window, counts and prices below a ceiling.
Identifiers are normalised (Unicode NFKC, invisible characters removed, spaces collapsed,
upper case): 'ref001', 'REF001' and 'REF001' followed by a zero-width space are one product.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from typing import Literal

from .errors import InvalidValue


@dataclasses.dataclass(frozen=True)
class Limits:
    """The plausible range of each value; ``--limit NAME=VALUE`` overrides a default."""

    min_date: dt.date = dt.date(2000, 1, 1)  # no sale of this business is older
    max_date: dt.date | None = None  # None: tomorrow (UTC), a sale is never in the future
    max_quantity: int = 100_000  # units in one sale line
    max_stock: int = 100_000_000
    max_employees: int = 1_000_000
    max_price: float = 1_000_000.0  # euros, one unit

    def latest_date(self) -> dt.date:
        return self.max_date or dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)

    @classmethod
    def parse(cls, assignments: list[str]) -> Limits:
        """``['max_quantity=500', 'min_date=2010-01-01']`` -> Limits; ValueError says what is wrong."""
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        values: dict[str, object] = {}
        for item in assignments:
            name, sep, text = item.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in types:
                raise ValueError(f"{item!r}: use NAME=VALUE with NAME one of {', '.join(types)}")
            try:
                if "date" in name:
                    values[name] = dt.date.fromisoformat(text.strip())
                elif name == "max_price":
                    values[name] = float(text)
                else:
                    values[name] = int(text)
            except ValueError:
                raise ValueError(f"{item!r}: {text!r} is not a valid {name}") from None
        return cls(**values)  # type: ignore[arg-type]


DateOrder = Literal["iso", "dmy", "mdy"]  # how a file writes its dates: ISO, day first, month first
DATE_FORMATS: dict[str, DateOrder] = {
    "YYYY-MM-DD": "iso",
    "DD/MM/YYYY": "dmy",
    "MM/DD/YYYY": "mdy",
}

_SLASH_DATE = re.compile(r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$")
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")
# thousands separators people type or paste: space, no-break, narrow no-break, thin, figure,
# punctuation and hair spaces, apostrophe; and the euro sign
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009\u2007\u2008\u200a'€")
# characters that show as nothing: zero-width spaces and joiners, word joiner, BOM, soft hyphen
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def plausible_date(day: str, text: str, limits: Limits) -> str:
    """The ISO date ``day``, or InvalidValue when it is outside the sales window of ``limits``."""
    if not limits.min_date.isoformat() <= day <= limits.latest_date().isoformat():
        raise InvalidValue(
            f"date {text!r} is outside {limits.min_date} .. {limits.latest_date()} "
            "(change the window with --limit min_date=... / max_date=...)"
        )
    return day


def parse_date(text: str, order: str | None) -> str:
    """Return the ISO date of ``text``; ``order`` ('dmy'/'mdy') decides slash dates."""
    value = text.strip()
    if len(value) == 10 and value[4] == "-" and value[7] == "-" and value.replace("-", "").isascii():
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


def parse_cents(text: str, maximum: float = Limits.max_price) -> int:
    """Parse a price in euros ('49.99', '49,99', '1 234,50', '1.234,50', '49,99 €') into cents.

    Money is counted in whole cents from here to the marts, so that every sum is exact at any
    size (a float sum of 10M revenues drifts by cents). A price with a fraction of a cent
    ('1,999') is refused, not rounded: rounding would change what the client wrote. Plain
    decimals only: '1e3', '1_000', 'inf', 'nan' and negative prices are refused.
    """
    value = text.strip().translate(_SPACES)
    if not value:
        raise InvalidValue("missing price")
    if value.startswith("-") and _DECIMAL.match(value[1:].replace(",", ".")):
        raise InvalidValue(f"negative price {text!r}")
    if "," in value:
        if "." in value and value.rfind(".") > value.rfind(","):
            value = value.replace(",", "")  # 1,234.50
        else:
            value = value.replace(".", "").replace(",", ".")  # 1.234,50 or 49,99
    if not _DECIMAL.match(value):
        raise InvalidValue(f"invalid number {text!r} (expected a plain decimal such as 49,90)")
    euros, _, fraction = value.partition(".")
    if len(fraction.rstrip("0")) > 2:
        raise InvalidValue(f"price {text!r} has a fraction of a cent (prices are in euros and cents)")
    cents = int(euros) * 100 + int((fraction + "00")[:2])
    if cents > maximum * 100:
        raise InvalidValue(f"price {text!r} is over {maximum:g} (change it with --limit max_price=...)")
    return cents


def parse_count(text: str, what: str, minimum: int, maximum: int | None = None) -> int:
    """Parse a whole number (accepting '3.0' / '3,0' as spreadsheets write them) in range."""
    value = text.strip().translate(_SPACES)
    if not value:
        raise InvalidValue(f"missing {what}")
    if not _INTEGER.match(value):
        whole, sep, frac = value.replace(",", ".").partition(".")
        if not (sep and _INTEGER.match(whole) and frac.strip("0") == "" and frac):
            raise InvalidValue(f"{what} {text!r} is not a whole number")
        value = whole
    if len(value.lstrip("+-0")) > 15:  # well past any maximum: no 20-digit int() to build
        raise InvalidValue(f"{what} {text!r} is implausibly large")
    number = int(value)
    if number < minimum:
        relation = "positive" if minimum == 1 else f">= {minimum}"
        raise InvalidValue(f"{what} {text!r} is not {relation}")
    if maximum is not None and number > maximum:
        raise InvalidValue(f"{what} {text!r} is over {maximum} (change it with --limit max_{what}=...)")
    return number


def parse_reference(text: str, what: str) -> str:
    """A key written by people: NFKC, invisible characters removed, spaces collapsed, upper case.

    'ref001', ' REF001 ' and 'REF001' + a zero-width space are the same product.
    """
    value = " ".join(unicodedata.normalize("NFKC", text).translate(_INVISIBLE).split()).upper()
    if not value:
        raise InvalidValue(f"missing {what}")
    return value


def parse_identifier(text: str, what: str) -> str:
    """A reference whose whole numbers lose leading zeros and a '.0' suffix ('007' -> '7')."""
    value = parse_reference(text, what)
    if value.isascii() and value.isdigit():
        return str(int(value))
    if value.endswith(".0") and value[:-2].isascii() and value[:-2].isdigit():
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
