"""Parse the sales feed into insert-ready batches: the loader's hot loop, with no SQLite in it.

:func:`parse_sales` reads the file and yields messages (:class:`Kind`): batches of bound
parameters for the multi-row INSERT, rejected rows with their reason, progress, the snapshot's
sale ids by day, and the days found unchanged. Because it never touches the database it can run
in this process or in a forked one (``loader.forked``) while the parent inserts the previous
batches.

Each distinct raw value is parsed once and cached: a feed of millions of lines has only a few
thousand distinct dates, references, stores and quantities.

The pass is :class:`SalesParser`, in named steps: the row loop (the hot path, kept in one
method with its state in locals), a day's start and end, the housekeeping (finished days to
the snapshot, progress), the end of the file. The unchanged-day skip lives in one place,
:class:`HeldDay`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from .csvfile import field_count_problem, open_csv, readable_rows, unreadable
from .errors import FeedError, InvalidValue
from .feeds import SALES
from .occurrence import OccurrenceCounter
from .snapshots import day_digest, encode_day
from .values import (
    DATE_FORMATS,
    DateOrder,
    Limits,
    key_part,
    parse_date,
    parse_text,
    plausible_date,
    slash_date_parts,
)


class Kind(IntEnum):
    """What a message of the parser carries."""

    BATCH = 0  # a batch: head + FIELDS_PER_ROW values per row
    REJECT = 1  # (line number, fields, reason)
    PROGRESS = 2  # bytes read so far
    DAY = 3  # (date, loader.snapshots.encode_day of that date's sale ids)
    UNCHANGED = 4  # rows of a day listed exactly as in the previous snapshot: stored already


BATCH, REJECT, PROGRESS, DAY, UNCHANGED = Kind
Message = tuple[Kind, object]
# the values bound per row, in the order of loader.sales.INSERT_COLUMNS: the sale id, each
# field parsed then as received (published order), the line number
FIELDS_PER_ROW = 1 + 2 * len(SALES.columns) + 1
PROGRESS_EVERY = 16_384  # rows
DAY_FLUSH_IDS = 65_536  # sale ids held for the snapshot before the finished days are sent

if SALES.field_names != ("date", "product_ref", "quantity", "store_id"):
    raise ImportError("the sales feed's columns changed: update SalesParser's row loop to match loader.feeds")


def date_order(configured: str | None, path: Path, column: int, encoding: str) -> DateOrder:
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

    def __init__(self, order: DateOrder, path: Path, column: int, limits: Limits, encoding: str):
        self.order = order
        self._path, self._column, self._limits, self._encoding = path, column, limits, encoding

    def __call__(self, text: str) -> str:
        if self.order == "iso" and slash_date_parts(text):
            self.order = _detect_slash_order(self._path, self._column, self._encoding)
        day = parse_date(text, None if self.order == "iso" else self.order)
        return plausible_date(day, text, self._limits)


def sales_parsers(
    order: DateOrder, path: Path, mapping: dict[str, int], limits: Limits, encoding: str
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


@dataclass(frozen=True, kw_only=True)
class ParseJob:
    """What one pass of the parser reads, and how: picklable, so a parser process gets it whole."""

    path: Path
    mapping: dict[str, int]  # the column of each field (and of "sale_id" for a feed with its own ids)
    order: DateOrder  # the file's day/month order (date_order)
    previous: Mapping[str, tuple[int, bytes]]  # (count, digest) of each stored day; {}: no skip
    head: list  # the values every batch starts with (the run id)
    rows_per_batch: int
    limits: Limits
    encoding: str


class HeldDay:
    """The unchanged-day skip, in one place.

    From the first row of a day the previous snapshot lists, its rows are held back, at most as
    many as the day had. When the day ends, if its sale ids digest to the stored day's (the same
    ids in the same order), every row is stored already (a snapshot is written in the
    transaction that inserted its sales, and raw_sales is append-only): only their number is
    sent (UNCHANGED). One row more than the day had, or any other digest, and the rows go
    through INSERT OR IGNORE like any others: the skip can only spare work, never decide what
    is stored.
    """

    __slots__ = ("values", "room", "stored")

    def __init__(self, stored: tuple[int, bytes]):
        self.values: list = []
        self.room = stored[0]
        self.stored = stored

    def hold(self, row_values: tuple) -> bool:
        """Hold one row's values; False once the day has more rows than it had."""
        self.values += row_values
        self.room -= 1
        return self.room >= 0

    def unchanged(self) -> bool:
        return day_digest(self.values[::FIELDS_PER_ROW]) == self.stored


def parse_sales(job: ParseJob, counter: OccurrenceCounter) -> Iterator[Message]:
    """Yield the messages of one pass over ``job.path`` (see :class:`Kind`).

    A batch is ``job.head`` followed by FIELDS_PER_ROW values for each of
    ``job.rows_per_batch`` rows; the last one may be shorter. The sale id is the normalised
    natural key plus its occurrence number in this file (``counter``), or the feed's own id
    when the mapping has a sale_id. Raises OutOfOrder (from the counter) when the file is not
    in date order. The snapshot's ids are sent by day once DAY_FLUSH_IDS are held, the latest
    day kept open (in a date-ordered file it goes on) unless it is the only one: a file not in
    date order, or a day with more ids than DAY_FLUSH_IDS, sends a day in several segments.
    """
    return SalesParser(job, counter).messages()


class SalesParser:
    """One pass over the sales file. Its state, by name:

    - ``days``: the sale ids of each day not sent to the snapshot yet, ``held_ids`` their number;
    - ``batch``: the values of the rows not sent yet (starts with ``job.head``);
    - ``held``: the :class:`HeldDay` of the day being read, when the previous snapshot lists it;
    - ``last_day``: the date of the row before; ``progress_at``: the line of the next progress;
    - ``caches``: per field (date, reference, quantity, store, own id), each distinct text seen.
    """

    def __init__(self, job: ParseJob, counter: OccurrenceCounter):
        self.job, self.counter = job, counter
        self.parsers = sales_parsers(job.order, job.path, job.mapping, job.limits, job.encoding)
        self.full = len(job.head) + FIELDS_PER_ROW * job.rows_per_batch
        self.days: dict[str, list[str]] = {}
        self.held_ids = 0
        self.batch = list(job.head)
        self.held: HeldDay | None = None
        self.last_day: str | None = None
        self.progress_at = PROGRESS_EVERY
        self.feed = None
        # per field, each distinct text -> its parsed entry (_parse_into), or False: it does not parse
        self.caches: tuple[dict, ...] = ({}, {}, {}, {}, {})

    def messages(self) -> Iterator[Message]:
        with open_csv(self.job.path, self.job.encoding) as feed:
            self.feed = feed
            while True:  # the row loop resumes after a line the csv module cannot read
                try:
                    yield from self._rows()
                    break
                except csv.Error as exc:
                    yield REJECT, unreadable(feed.rows.line_num, exc)
            yield from self._end()

    def _rows(self) -> Iterator[Message]:
        """The hot loop: each row parsed from the per-field caches, its sale id, then into its
        day's ids and the batch, or held back with its day. What changes on every row is in
        locals, for speed, and handed back to the object around the named steps."""
        reader, width = self.feed.rows, len(self.feed.header)
        parsers = self.parsers
        (i_date, parse_date_), (i_ref, parse_ref), (i_qty, parse_qty), (i_store, parse_store) = parsers[:4]
        i_own, parse_own = parsers[4] if len(parsers) > 4 else (-1, None)
        dates, refs, quantities, stores = self.caches[:4]
        own_id = self._own_id
        date_of, ref_of, qty_of, store_of = dates.get, refs.get, quantities.get, stores.get
        counts, first_seen = self.counter.counts, self.counter.first_seen
        count_of, days_of = counts.get, self.days.get
        days, full, head = self.days, self.full, self.job.head
        batch, held, held_ids, last_day = self.batch, self.held, self.held_ids, self.last_day
        try:
            for row in reader:
                if len(row) != width:
                    rejected = self._irregular(row, width, reader.line_num)
                    if rejected is not False:
                        if rejected is not None:
                            yield rejected
                        continue
                t_date, t_ref, t_qty, t_store = row[i_date], row[i_ref], row[i_qty], row[i_store]
                date = date_of(t_date)  # (ISO date, text)
                if date is None:
                    date = _parse_into(dates, parse_date_, t_date)
                ref = ref_of(t_ref)  # (value, key part, text)
                if ref is None:
                    ref = _parse_into(refs, parse_ref, t_ref)
                qty = qty_of(t_qty)  # (value, text)
                if qty is None:
                    qty = _parse_into(quantities, parse_qty, t_qty)
                store = store_of(t_store)  # (value, key part, text)
                if store is None:
                    store = _parse_into(stores, parse_store, t_store)
                own = parse_own and own_id(row[i_own])  # None: the feed has no id column
                if not (date and ref and qty and store and own is not False):
                    yield REJECT, (reader.line_num, row, explain(row, parsers))
                    continue
                day = date[0]
                key = f"{day}|{ref[1]}|{store[1]}|{qty[0]}"
                if own is None:  # the natural key and its occurrence number in this file
                    n = count_of(key)
                    if n is None:
                        first_seen(key)
                        n = 0
                    counts[key] = n = n + 1
                    sale_id = f"{key}|{n}"
                else:  # the feed's own id, then the content: a row changed under its id is an edit
                    sale_id = f"{own[0]}#{key}"
                if day != last_day:
                    self.batch, self.held, self.held_ids = batch, held, held_ids
                    yield from self._new_day(day)
                    batch, held, held_ids, last_day = self.batch, self.held, self.held_ids, day
                same_day = days_of(day)
                if same_day is None:
                    same_day = days[day] = []
                same_day.append(sale_id)
                held_ids += 1
                values = (
                    sale_id,
                    day,
                    ref[0],
                    qty[0],
                    store[0],
                    date[1],
                    ref[2],
                    qty[1],
                    store[2],
                    reader.line_num,
                )
                if held is not None:
                    if held.hold(values):
                        continue
                    batch = yield from self._spill(batch, held.values)  # more rows than the day had
                    held = None
                else:
                    batch += values
                    if len(batch) < full:
                        continue
                    yield BATCH, batch
                    batch = list(head)
                self.held_ids = held_ids
                yield from self._housekeeping()
                held_ids = self.held_ids
        finally:
            self.batch, self.held, self.held_ids, self.last_day = batch, held, held_ids, last_day

    def _own_id(self, text: str) -> object:
        """The entry of a text of the feed's own sale id column (or False), cached like the rest."""
        cache = self.caches[4]
        return cache.get(text) or _parse_into(cache, self.parsers[4][1], text)

    def _irregular(self, row: list[str], width: int, line: int) -> Message | None | bool:
        """A row of the wrong width: None for a blank line (skipped), a REJECT message, or False
        when it is a row after all (trailing empty cells)."""
        if not any(cell.strip() for cell in row):
            return None
        problem = field_count_problem(row, width)
        return (REJECT, (line, row, problem)) if problem else False

    def _new_day(self, day: str) -> Iterator[Message]:
        """The day before ends (its held rows decided); this one is held if the snapshot lists it."""
        if self.held is not None:
            yield from self._close_held_day()
            yield from self._housekeeping()
        self.last_day = day  # (the row loop keeps its own copy)
        previous = self.job.previous
        if day in previous and day not in self.days:
            self.held = HeldDay(previous[day])

    def _close_held_day(self) -> Iterator[Message]:
        held, self.held = self.held, None
        if held.unchanged():
            yield UNCHANGED, len(held.values) // FIELDS_PER_ROW
        else:
            self.batch = yield from self._spill(self.batch, held.values)

    def _spill(self, batch: list, values: list) -> Iterator[Message]:
        """Yield the full batches of ``batch`` followed by ``values``; returns the rest as the batch."""
        head = self.job.head
        values = batch[len(head) :] + values
        step = self.job.rows_per_batch * FIELDS_PER_ROW
        end = len(values) - len(values) % step
        for start in range(0, end, step):
            yield BATCH, head + values[start : start + step]
        return head + values[end:]

    def _housekeeping(self) -> Iterator[Message]:
        """The finished days to the snapshot once DAY_FLUSH_IDS ids are held; the progress once due."""
        if self.held_ids >= DAY_FLUSH_IDS:
            yield from self._finished_days(keep_latest=True)
            self.held_ids = sum(map(len, self.days.values()))
        line = self.feed.rows.line_num
        if line >= self.progress_at:
            yield PROGRESS, self.feed.progress.bytes_read
            self.progress_at = line + PROGRESS_EVERY

    def _finished_days(self, keep_latest: bool) -> Iterator[Message]:
        """(DAY, (date, encoded ids)) for each day held, but the latest when more may follow.

        A day held alone is sent even then, as a segment: one day over DAY_FLUSH_IDS ids would
        otherwise be held whole, whatever its size.
        """
        days = self.days
        latest = max(days) if keep_latest and len(days) > 1 else None
        for day in [day for day in days if day != latest]:
            yield DAY, (day, encode_day(days.pop(day)))

    def _end(self) -> Iterator[Message]:
        if self.held is not None:
            yield from self._close_held_day()
        if len(self.batch) > len(self.job.head):
            yield BATCH, self.batch
        yield from self._finished_days(keep_latest=False)
        yield PROGRESS, self.feed.progress.bytes_read
