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
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path

from .csvfile import CsvFeed, field_count_problem, open_csv, readable_rows, unreadable
from .errors import FeedError, InvalidValue
from .feeds import SALES
from .occurrence import OccurrenceCounter
from .snapshots import day_digest, encode_day
from .values import DATE_FORMATS, Limits, key_part, parse_date, parse_text, plausible_date, slash_date_parts

# message kinds, and a message: (kind, payload)
BATCH, REJECT, PROGRESS, DAY, UNCHANGED = 0, 1, 2, 3, 4
Message = tuple[int, object]
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


def _finished_days(days: dict[str, list[str]], keep_latest: bool) -> Iterator[Message]:
    """(DAY, (date, encoded ids)) for each day held, but the latest when more may follow.

    A day held alone is sent even then, as a segment: one day over DAY_FLUSH_IDS ids would
    otherwise be held whole, whatever its size.
    """
    latest = max(days) if keep_latest and len(days) > 1 else None
    for day in [day for day in days if day != latest]:
        yield DAY, (day, encode_day(days.pop(day)))


def _housekeeping(
    days: dict[str, list[str]], held: int, feed: CsvFeed, progress_at: int
) -> Generator[Message, None, tuple[int, int]]:
    """Send the finished days once DAY_FLUSH_IDS ids are held, and the progress once due;
    returns the ids still held and the line of the next progress message."""
    if held >= DAY_FLUSH_IDS:
        yield from _finished_days(days, keep_latest=True)
        held = sum(map(len, days.values()))
    if feed.rows.line_num >= progress_at:
        yield PROGRESS, feed.progress.bytes_read
        progress_at = feed.rows.line_num + PROGRESS_EVERY
    return held, progress_at


def _spill(head: list, batch: list, values: list, rows_per_batch: int) -> Generator[Message, None, list]:
    """Yield the full batches of ``batch`` followed by ``values``; return the rest as the batch."""
    values = batch[len(head) :] + values
    step = rows_per_batch * FIELDS_PER_ROW
    end = len(values) - len(values) % step
    for start in range(0, end, step):
        yield BATCH, head + values[start : start + step]
    return head + values[end:]


def _close_day(
    waiting: list, previous: tuple[int, bytes], head: list, batch: list, rows_per_batch: int
) -> Generator[Message, None, list]:
    """The rows of a day held back until the day ends: not sent at all if its sale ids are the
    ones the previous snapshot lists for that day, in the same order (so all of them are stored
    already: a snapshot is only written with the rows of its load), else sent as batches."""
    if day_digest(waiting[::FIELDS_PER_ROW]) == previous:
        yield UNCHANGED, len(waiting) // FIELDS_PER_ROW
        return batch
    return (yield from _spill(head, batch, waiting, rows_per_batch))


def parse_sales(
    path: Path,
    mapping: dict[str, int],
    order: str,
    counter: OccurrenceCounter,
    previous: Mapping[str, tuple[int, bytes]],
    head: list,
    rows_per_batch: int,
    limits: Limits,
    encoding: str,
) -> Iterator[Message]:
    """Yield (BATCH, params), (REJECT, (line, fields, reason)), (PROGRESS, bytes read),
    (DAY, (date, loader.snapshots.encode_day of that date's sale ids)) and (UNCHANGED, rows).

    A batch is ``head`` followed by FIELDS_PER_ROW values for each of ``rows_per_batch``
    rows; the last one may be shorter. The sale id is the normalised natural key plus its
    occurrence number in this file, or the feed's own id when ``mapping`` has a sale_id.
    Raises OutOfOrder (from the counter) when the file is not in date order. The ids of the
    snapshot are sent by day once DAY_FLUSH_IDS are held, the latest day kept open (in a
    date-ordered file it goes on) unless it is the only one: a file not in date order, or a
    day with more ids than DAY_FLUSH_IDS, sends a day in several segments.

    ``previous`` is the (count, digest) of each day of the source's previous snapshot
    (loader.snapshots). The rows of such a day are held back from its first row on, at most
    as many as it had: when the day ends with the same sale ids in the same order, they are
    all stored already, and only their number is sent (UNCHANGED) instead of batches. So a
    reload of a sheet that changed on a few days inserts, and sends across processes, only
    the rows of those days; the ids of every day still go to the snapshot.

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
        full = len(head) + FIELDS_PER_ROW * rows_per_batch
        batch, held, progress_at = list(head), 0, PROGRESS_EVERY
        last_day, waiting, room = None, None, 0  # the date of the row before; its day's rows held back
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
                    if day != last_day:
                        if waiting is not None:
                            batch = yield from _close_day(
                                waiting, previous[last_day], head, batch, rows_per_batch
                            )
                            waiting = None
                            held, progress_at = yield from _housekeeping(days, held, feed, progress_at)
                        last_day = day
                        if day in previous and day not in days:
                            waiting, room = [], previous[day][0]
                    same_day = days_get(day)
                    if same_day is None:
                        same_day = days[day] = []
                    same_day.append(sid)
                    held += 1
                    values = (sid, day, p[0], q[0], s[0], d[1], p[2], q[1], s[2], reader.line_num)
                    if waiting is not None:
                        waiting += values
                        room -= 1
                        if room >= 0:
                            continue
                        # more rows than the day had: not as before, sent as they come from now on
                        batch = yield from _spill(head, batch, waiting, rows_per_batch)
                        waiting = None
                    else:
                        batch += values
                        if len(batch) < full:
                            continue
                        yield BATCH, batch
                        batch = list(head)
                    held, progress_at = yield from _housekeeping(days, held, feed, progress_at)
                break
            except csv.Error as exc:
                yield REJECT, unreadable(reader.line_num, exc)
        if waiting is not None:
            batch = yield from _close_day(waiting, previous[last_day], head, batch, rows_per_batch)
        if len(batch) > len(head):
            yield BATCH, batch
        yield from _finished_days(days, keep_latest=False)
        yield PROGRESS, feed.progress.bytes_read
