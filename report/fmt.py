"""French number and date formatting for everything the client reads.

Money is kept unrounded in the warehouse and rounded to the cent only here.

Dates are Babel's (CLDR's French month names), with French's « 1er » for the first of a month.
Numbers stay formatted here: Babel rounds the decimal text of a float (2.675 -> 2,68) where
Python rounds its binary value (2,67), so switching would change figures the client already has;
``tests/test_report.py::test_babel_gives_the_same_dates_but_not_the_same_rounding`` keeps that
decision honest. (With exact money, amounts become decimals and the question goes away.)
"""

from __future__ import annotations

import datetime as dt
import math

from babel.dates import format_date

NBSP = "\u202f"  # narrow no-break space: the French thousands separator


def number(value: float | int | None, decimals: int = 0) -> str:
    if value is None:
        return "-"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", NBSP).replace(".", ",")


def euros(value: float | None) -> str:
    return "-" if value is None else f"{number(value, 2)}\u00a0€"


def percent(share: float | None, decimals: int = 1) -> str:
    return "-" if share is None else f"{number(share * 100, decimals)}\u00a0%"


def date(value: str | dt.date | None, year: bool = True) -> str:
    """'2023-05-27' -> '27 mai 2023'; the first of the month is '1er juin 2023'."""
    if value is None:
        return "-"
    day = dt.date.fromisoformat(value[:10]) if isinstance(value, str) else value
    text = format_date(day, "d MMMM y" if year else "d MMMM", locale="fr_FR")
    return "1er" + text[1:] if day.day == 1 else text


def _in_paris(when: dt.datetime, zone: str = "Europe/Paris") -> tuple[dt.datetime, str]:
    """``when`` in the client's time, and a suffix saying UTC where no time zone data exists."""
    try:
        from zoneinfo import ZoneInfo

        return when.astimezone(ZoneInfo(zone)), ""
    except Exception:  # no time zone database on this machine: say it is UTC
        return when.astimezone(dt.UTC), " (UTC)"


def moment(utc_iso: str | None, zone: str = "Europe/Paris") -> str:
    """'2026-11-29T08:05:59.029Z' -> '29 novembre 2026 à 9 h 05' (French time, the client's)."""
    if not utc_iso:
        return "-"
    when, suffix = _in_paris(dt.datetime.fromisoformat(utc_iso), zone)  # Python 3.11 reads the trailing Z
    return f"{date(when.date())} à {when.hour} h {when.minute:02d}{suffix}"


def paris_today(now: dt.datetime | None = None) -> dt.date:
    """Today in the client's time zone: a sheet written at 0 h 30 in Paris is dated that day,
    not the day before as UTC's ``date.today()`` on a server would say."""
    return _in_paris(now or dt.datetime.now(dt.UTC))[0].date()


def plural(count: float | int, singular: str, plural_form: str | None = None) -> str:
    """'0 jour', '1 jour', '2 jours': French takes the singular below 2."""
    word = singular if abs(round(count)) < 2 else (plural_form or singular + "s")  # as displayed
    return f"{number(count)} {word}"


def signed_euros(value: float | None) -> str:
    """'+1 234,50 €' / '-12,00 €': a change, with its sign."""
    if value is None:
        return "-"
    return ("+" if value > 0 else "") + euros(value)


def signed_percent(share: float | None) -> str:
    """'+12,5 %' / '-3,0 %'; '-' when there is nothing to compare with."""
    return "-" if share is None else ("+" if share > 0 else "") + percent(share)


def nice_ticks(top: float, most: int = 5) -> list[float]:
    """Round axis values from 0 to at least ``top``: steps of 1, 2, 2.5 or 5 times a power of ten
    (0, 100, 200, 300, 400 for a maximum of 399.95), at most ``most`` steps."""
    if top <= 0:
        return [0.0, 1.0]
    magnitude = 10 ** math.floor(math.log10(top / most))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10, 20) if m * magnitude * most >= top)
    return [round(step * i, 12) for i in range(math.ceil(top / step - 1e-9) + 1)]


def duration(seconds: float) -> str:
    """A rounded French duration: '45 s', '12 min', '3 h', '2 j'."""
    if seconds < 90:
        return f"{max(0, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 36 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} j"


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|!~"} | {"\n": " ", "\r": " "})


def md(text: object) -> str:
    """Text from the client's sheets, safe inside Markdown (and the HTML it renders to).

    Every character with a meaning in Markdown or HTML is backslash-escaped: a '|' cannot
    shift table columns, '<img src=...>' or '![](http://...)' are shown, never rendered or
    fetched, and a line break cannot start a new block.
    """
    return str(text).translate(_MARKDOWN)
