"""Parse the sales feed into insert-ready batches: the loader's hot loop, with no SQLite in it.

:func:`parse_sales` reads the file and yields messages: batches of bound parameters for the
multi-row INSERT, rejected rows with their reason, and progress. Because it never touches the
database it can run in this process or in a forked one (``loader.forked``) while the parent
inserts the previous batches.

Each distinct raw value is parsed once and cached: a feed of millions of lines has only a few
thousand distinct dates, references, stores and quantities.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from .csvfile import field_count_problem, open_csv
from .errors import FeedError, InvalidValue
from .feeds import SALES
from .occurrence import OccurrenceCounter
from .values import DATE_FORMATS, key_part, parse_date, parse_text, slash_date_parts

# message kinds
BATCH, REJECT, PROGRESS = 0, 1, 2
# the values bound per row, in the order of loader.sales.INSERT_COLUMNS: the sale id, each
# field parsed then as received (published order), the line number
FIELDS_PER_ROW = 1 + 2 * len(SALES.columns) + 1
PROGRESS_EVERY = 16_384  # rows

if SALES.field_names != ("date", "product_ref", "quantity", "store_id"):
    raise ImportError("the sales feed's columns changed: update parse_sales' hot loop to match loader.feeds")


class DateParser:
    """Parses dates with a per-file day/month order, detected on the first slash date seen."""

    def __init__(self, configured: str | None, path: Path, column: int):
        if configured is not None and configured not in DATE_FORMATS:
            raise FeedError(f"unknown --date-format {configured!r}: use one of {', '.join(DATE_FORMATS)}")
        self.order = DATE_FORMATS[configured] if configured else None
        self._path, self._column = path, column

    def __call__(self, text: str) -> str:
        if self.order is None and slash_date_parts(text):
            self.order = self._detect()
        return parse_date(text, None if self.order == "iso" else self.order)

    def _detect(self) -> str:
        with open_csv(self._path) as feed:
            for row in feed.rows:
                parts = slash_date_parts(row[self._column]) if len(row) > self._column else None
                if parts and parts[0] > 12:
                    return "dmy"
                if parts and parts[1] > 12:
                    return "mdy"
        raise FeedError(
            "every date in the sales feed could be DD/MM/YYYY or MM/DD/YYYY: pass --date-format "
            "DD/MM/YYYY (French exports) or --date-format MM/DD/YYYY"
        )


def sales_parsers(date_format: str | None, path: Path, mapping: dict[str, int]) -> list[tuple[int, Callable]]:
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
            parse: Callable = DateParser(date_format, path, mapping[column.name])
        elif column.sql_type == "text":
            parse = keyed(column.parser())
        else:
            parse = column.parser()
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
    """Parse a value not seen yet and remember the result; invalid values are cached as False."""
    try:
        value = parse(text)
    except InvalidValue:
        value = False
    cache[text] = value
    return value


def parse_sales(
    path: Path,
    mapping: dict[str, int],
    date_format: str | None,
    counter: OccurrenceCounter,
    head: list,
    rows_per_batch: int,
) -> Iterator[tuple[int, object]]:
    """Yield (BATCH, params), (REJECT, (line, fields, reason)) and (PROGRESS, bytes read).

    A batch is ``head`` followed by FIELDS_PER_ROW values for each of ``rows_per_batch``
    rows; the last one may be shorter. The sale id is the normalised natural key plus its
    occurrence number in this file, or the feed's own id when ``mapping`` has a sale_id.
    Raises OutOfOrder (from the counter) when the file is not in date order.

    Legend of the hot loop: t_* is a field's text as received, i_* its column index, p_* its
    parser; d (date), p (product: (value, key part)), q (quantity), s (store: (value, key
    part)) are the parsed values, each from a per-field cache of distinct texts, where False
    marks a text that does not parse.
    """
    parsers = sales_parsers(date_format, path, mapping)
    (i_date, p_date), (i_ref, p_ref), (i_qty, p_qty), (i_store, p_store) = parsers[:4]
    i_id, p_id = parsers[4] if len(parsers) > 4 else (-1, None)
    dates: dict[str, object] = {}
    refs: dict[str, object] = {}
    qtys: dict[str, object] = {}
    stores: dict[str, object] = {}
    own_ids: dict[str, object] = {}
    counts = counter.counts
    d_get, r_get, q_get, s_get, c_get = dates.get, refs.get, qtys.get, stores.get, counts.get

    with open_csv(path) as feed:
        reader, width = feed.rows, len(feed.header)
        batch, size, done = list(head), 0, 0
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
                key = f"{d}|{p[1]}|{s[1]}|{q}"
                n = c_get(key)
                if n is None:
                    counter.first_seen(key)
                    n = 0
                counts[key] = n = n + 1
                sid = f"{key}|{n}"
            batch += (sid, d, p[0], q, s[0], t_date, t_ref, t_qty, t_store, reader.line_num)
            size += 1
            if size == rows_per_batch:
                yield BATCH, batch
                done += size
                batch, size = list(head), 0
                if done % PROGRESS_EVERY == 0:
                    yield PROGRESS, feed.progress.bytes_read
        if size:
            yield BATCH, batch
        yield PROGRESS, feed.progress.bytes_read
