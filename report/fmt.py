"""French number and date formatting for everything the client reads.

Money is kept unrounded in the warehouse and rounded to the cent only here.
"""

from __future__ import annotations

import datetime as dt

NBSP = "\u202f"  # narrow no-break space: the French thousands separator
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")  # fmt: skip


def number(value: float | int | None, decimals: int = 0) -> str:
    if value is None:
        return "-"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", NBSP).replace(".", ",")


def euros(value: float | None) -> str:
    return "-" if value is None else f"{number(value, 2)}\u00a0€"


def percent(share: float | None, decimals: int = 1) -> str:
    return "-" if share is None else f"{number(share * 100, decimals)}\u00a0%"


def date(value: str | dt.date | None) -> str:
    """'2023-05-27' -> '27 mai 2023'."""
    if value is None:
        return "-"
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|!~"} | {"\n": " ", "\r": " "})


def md(text: object) -> str:
    """Text from the client's sheets, safe inside Markdown (and the HTML it renders to).

    Every character with a meaning in Markdown or HTML is backslash-escaped: a '|' cannot
    shift table columns, '<img src=...>' or '![](http://...)' are shown, never rendered or
    fetched, and a line break cannot start a new block.
    """
    return str(text).translate(_MARKDOWN)
