"""Parse the sales feed into insert-ready batches: the loader's hot loop, with no SQLite in it.

:func:`parse_sales` reads the file and yields messages: batches of bound parameters for the
multi-row INSERT, rejected rows with their reason, and progress. Because it never touches the
database it can run in this process or in a forked one (``loader.forked``) while the parent
inserts the previous batches.

Each distinct raw value is parsed once and cached: a feed of millions of lines has only a few
thousand distinct dates, references, stores and quantities.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

from .csvfile import field_count_problem, open_csv, readable_rows, unreadable
from .errors import FeedError, InvalidValue
from .feeds import SALES
from .occurrence import OccurrenceCounter
from .snapshots import encode_day
from .values import DATE_FORMATS, Limits, key_part, parse_date, parse_text, plausible_date, slash_date_parts

# message kinds
BATCH, REJECT, PROGRESS, DAY = 0, 1, 2, 3
# the values bound per row, in the order of loader.sales.INSERT_COLUMNS: the sale id, each
# field parsed then as received (published order), the line number
FIELDS_PER_ROW = 1 + 2 * len(SALES.columns) + 1
PROGRESS_EVERY = 16_384  # rows
DAY_FLUSH_IDS = 65_536  # sale ids held for the snapshot before the finished days are sent

if SALES.field_names != ("date", "product_ref", "quantity", "store_id"):
    raise ImportError("the sales feed's columns changed: update parse_sales' hot loop to match loader.feeds")


def date_order(configured: str | None, path: Path, column: int, encoding: str) -> str:
    """'iso', 'dmy' or 'mdy': the configured --date-format, else what the file's dates say.

    Decided before parsing (and recorded in loader_runs.date_order) so that reading the same
    source later with the other day/month order is refused instead of storing every sale again.
    """
    if configured is not None:
        if configured not in DATE_FORMATS:
            raise FeedError(f"unknown --date-format {configured!r}: use one of {', '.join(DATE_FORMATS)}")
        return DATE_FORMATS[configured]
    with open_csv(path, encoding) as feed:
        for row in readable_rows(feed):
            text = row[column].strip() if len(row) > column else ""
            if slash_date_parts(text):
                return _detect_slash_order(path, column, encoding)
            if len(text) == 10 and text[4] == "-" and text[7] == "-":
                return "iso"
    return "iso"


def _detect_slash_order(path: Path, column: int, encoding: str) -> str:
    with open_csv(path, encoding) as feed:
        for row in readable_rows(feed):
            parts = slash_date_parts(row[column]) if len(row) > column else None
            if parts and parts[0] > 12:
                return "dmy"
            if parts and parts[1] > 12:
                return "mdy"
    raise FeedError(
        "every date in the sales feed could be DD/MM/YYYY or MM/DD/YYYY: pass --date-format "
        "DD/MM/YYYY (French exports) or --date-format MM/DD/YYYY"
    )


class DateParser:
    """Parses dates with the file's day/month order; a slash date in an ISO file decides it."""

    def __init__(self, order: str, path: Path, column: int, limits: Limits, encoding: str):
        self.order = order
        self._path, self._column, self._limits, self._encoding = path, column, limits, encoding

    def __call__(self, text: str) -> str:
        if self.order == "iso" and slash_date_parts(text):
            self.order = _detect_slash_order(self._path, self._column, self._encoding)
        day = parse_date(text, None if self.order == "iso" else self.order)
        return plausible_date(day, text, self._limits)


def sales_parsers(
    order: str, path: Path, mapping: dict[str, int], limits: Limits, encoding: str
) -> list[tuple[int, Callable]]:
    """(column index, strict parser) for each sales field, in published order.

    Parsers raise InvalidValue. Key fields (reference, store) parse to (value, key part):
    the key part is escaped for the composite sale id.
    """

    def keyed(parse: Callable[[str], object]) -> Callable[[str], tuple[str, str]]:
        def parse_keyed(text: str) -> tuple[str, str]:
            value = str(parse(text))
            return value, key_part(value)

        return parse_keyed

    parsers: list[tuple[int, Callable]] = []
    for column in SALES.columns:
        if column.kind == "date":
            parse: Callable = DateParser(order, path, mapping[column.name], limits, encoding)
        elif column.sql_type == "text":
            parse = keyed(column.parser(limits))
        else:
            parse = column.parser(limits)
        parsers.append((mapping[column.name], parse))
    if "sale_id" in mapping:
        parsers.append((mapping["sale_id"], lambda text: parse_text(text, "sale id")))
    return parsers


def explain(row: list[str], parsers: list[tuple[int, Callable]]) -> str:
    """The reason a row was refused: the message of the first field that does not parse."""
    for index, parse in parsers:
        try:
            parse(row[index])
        except InvalidValue as exc:
            return str(exc)
    return "invalid row"


def _parse_into(cache: dict, parse: Callable[[str], object], text: str) -> object:
    """Parse a value not seen yet and remember the result; invalid values are cached as False.

    The entry ends with ``text`` itself: every row with that text then sends this one string
    object as its raw copy, which pickling to the inserting process writes once per chunk.
    """
    try:
        value = parse(text)
    except InvalidValue:
        cache[text] = False
        return False
    entry = cache[text] = (*value, text) if isinstance(value, tuple) else (value, text)
    return entry


def _finished_days(days: dict[str, list[str]], keep_latest: bool) -> Iterator[tuple[int, object]]:
    """(DAY, (date, encoded ids)) for each day held, but the latest when more may follow.

    A day held alone is sent even then, as a segment: one day over DAY_FLUSH_IDS ids would
    otherwise be held whole, whatever its size.
    """
    latest = max(days) if keep_latest and len(days) > 1 else None
    for day in [day for day in days if day != latest]:
        yield DAY, (day, encode_day(days.pop(day)))


def parse_sales(
    path: Path,
    mapping: dict[str, int],
    order: str,
    counter: OccurrenceCounter,
    head: list,
    rows_per_batch: int,
    limits: Limits,
    encoding: str,
) -> Iterator[tuple[int, object]]:
    """Yield (BATCH, params), (REJECT, (line, fields, reason)), (PROGRESS, bytes read) and
    (DAY, (date, loader.snapshots.encode_day of that date's sale ids)).

    A batch is ``head`` followed by FIELDS_PER_ROW values for each of ``rows_per_batch``
    rows; the last one may be shorter. The sale id is the normalised natural key plus its
    occurrence number in this file, or the feed's own id when ``mapping`` has a sale_id.
    Raises OutOfOrder (from the counter) when the file is not in date order. The ids of the
    snapshot are sent by day once DAY_FLUSH_IDS are held, the latest day kept open (in a
    date-ordered file it goes on) unless it is the only one: a file not in date order, or a
    day with more ids than DAY_FLUSH_IDS, sends a day in several segments.

    Legend of the hot loop: t_* is a field's text as received, i_* its column index, p_* its
    parser; d (date: (ISO date, text)), p (product: (value, key part, text)), q (quantity:
    (value, text)), s (store: (value, key part, text)) are the parsed values, each from a
    per-field cache of distinct texts (:func:`_parse_into`), where False marks a text that
    does not parse.
    """
    parsers = sales_parsers(order, path, mapping, limits, encoding)
    (i_date, p_date), (i_ref, p_ref), (i_qty, p_qty), (i_store, p_store) = parsers[:4]
    i_id, p_id = parsers[4] if len(parsers) > 4 else (-1, None)
    dates: dict[str, object] = {}
    refs: dict[str, object] = {}
    qtys: dict[str, object] = {}
    stores: dict[str, object] = {}
    own_ids: dict[str, object] = {}
    counts = counter.counts
    days: dict[str, list[str]] = {}  # the sale ids of each day not sent yet
    d_get, r_get, q_get, s_get, c_get = dates.get, refs.get, qtys.get, stores.get, counts.get
    days_get = days.get

    with open_csv(path, encoding) as feed:
        reader, width = feed.rows, len(feed.header)
        batch, size, done, held = list(head), 0, 0, 0
        while True:  # the for loop resumes after a line the csv module cannot read
            try:
                for row in reader:
                    if len(row) != width:
                        if not any(cell.strip() for cell in row):
                            continue  # a blank line is not a row
                        problem = field_count_problem(row, width)
                        if problem:
                            yield REJECT, (reader.line_num, row, problem)
                            continue
                    t_date, t_ref, t_qty, t_store = row[i_date], row[i_ref], row[i_qty], row[i_store]
                    d = d_get(t_date)
                    if d is None:
                        d = _parse_into(dates, p_date, t_date)
                    p = r_get(t_ref)
                    if p is None:
                        p = _parse_into(refs, p_ref, t_ref)
                    q = q_get(t_qty)
                    if q is None:
                        q = _parse_into(qtys, p_qty, t_qty)
                    s = s_get(t_store)
                    if s is None:
                        s = _parse_into(stores, p_store, t_store)
                    if p_id is None:
                        sid = None
                    else:
                        sid = own_ids.get(row[i_id])
                        if sid is None:
                            sid = _parse_into(own_ids, p_id, row[i_id])
                    if not (d and p and q and s and sid is not False):
                        yield REJECT, (reader.line_num, row, explain(row, parsers))
                        continue
                    if sid is None:
                        key = f"{d[0]}|{p[1]}|{s[1]}|{q[0]}"
                        n = c_get(key)
                        if n is None:
                            counter.first_seen(key)
                            n = 0
                        counts[key] = n = n + 1
                        sid = f"{key}|{n}"
                    else:  # the feed's own id, then the content: a row changed under its id is an edit
                        sid = f"{sid[0]}#{d[0]}|{p[1]}|{s[1]}|{q[0]}"
                    day = d[0]
                    batch += (sid, day, p[0], q[0], s[0], d[1], p[2], q[1], s[2], reader.line_num)
                    same_day = days_get(day)
                    if same_day is None:
                        same_day = days[day] = []
                    same_day.append(sid)
                    size += 1
                    if size == rows_per_batch:
                        yield BATCH, batch
                        done += size
                        held += size
                        batch, size = list(head), 0
                        if held >= DAY_FLUSH_IDS:
                            yield from _finished_days(days, keep_latest=True)
                            held = sum(map(len, days.values()))
                        if done % PROGRESS_EVERY == 0:
                            yield PROGRESS, feed.progress.bytes_read
                break
            except csv.Error as exc:
                yield REJECT, unreadable(reader.line_num, exc)
        if size:
            yield BATCH, batch
        yield from _finished_days(days, keep_latest=False)
        yield PROGRESS, feed.progress.bytes_read
