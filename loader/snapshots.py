"""The warehouse follows the sheet: each sales load is a full snapshot of its source, compared
with the previous snapshot of the same source.

People edit the client's sheet: a quantity corrected (2 -> 20), a mistyped line deleted, and,
if the sheet is a rolling window, its oldest days dropped every day. Appending only would
count an edited line twice. So, per source, the loader keeps the sale ids of the latest loaded
snapshot, and each load compares its ids with them, as multisets of sale ids (natural key +
occurrence number, so deleting one of two identical lines is exact):

- ids new in this snapshot were inserted by the load as usual (``INSERT OR IGNORE``); one that
  had been retired is **restored** (it is in the sheet again);
- ids of the previous snapshot missing from this one and dated **before** this snapshot's
  first date have **aged out** of a rolling window: kept as live sales, counted, not retired;
- the other missing ids are **retired** in this run: an append-only row in
  ``raw_sales_events`` (which sale, which run, why); nothing is ever deleted from raw_sales.
  An edited line is one retirement plus one insertion (dbt pairs them by line number).

A broken or half-published sheet must not erase history: a load that would retire more than
``max_retire_share`` of the previous snapshot's in-window sales, or that has no sale at all
while the previous one had some, fails (and its transaction rolls back) unless
``allow_retire``. ``on_missing="keep"`` turns retirement off for strictly append-only sheets:
a line deleted by mistake then stays counted, which is the trade-off.

Storage, and why: one row per (source, sale date) in ``sales_snapshot_days``, holding that
day's ids compressed, their count and a digest. The parser (``loader.sales_parser``,
possibly in its own process) groups the ids by day and encodes them (:func:`encode_day`), so
the inserting process writes a few hundred small rows instead of binding every id a second
time (a table of one row per id cost a quarter of a first load). Comparing is per day: a day
whose digest did not change is not even decompressed, a day gone before the first date only
adds its count to the aged-out sales, and only an edited day is decoded and diffed. A file not
in date order, or a day larger than the parser holds, sends a day in several segments; they
are merged here. Memory follows the largest day, not the sheet: the segments wait in a
temporary table, and one or two days are decoded at a time.

The parser is also given each stored day's (count, digest) (:meth:`Snapshot.previous_days`): a
day of the file whose ids digest to the stored day's is stored already (a snapshot is written in
the transaction that inserted its sales, and raw_sales is append-only), so its rows are not sent
for insertion at all. A digest is a blake2b of the ids in order, so the check can only fail safe:
a day reordered or edited goes through ``INSERT OR IGNORE`` like any other.

Ids never contain a newline (values are normalised: whitespace collapsed), so the day's ids
are stored joined by newlines.
"""

from __future__ import annotations

import hashlib
import sqlite3
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Literal

from .errors import FeedError

OnMissing = Literal["retire", "keep"]

DDL = """
create table if not exists snapshot_sources (
    source_id       integer primary key,
    source          text    not null unique  -- the URL or path of a sales feed
);

create table if not exists sales_snapshot_days (
    source_id       integer not null references snapshot_sources (source_id),
    sale_date       text    not null,   -- one day of the latest loaded snapshot of that source
    sales           integer not null,   -- distinct sale ids listed on that day
    digest          blob    not null,   -- blake2b of the ids: an unchanged day is not decoded
    sale_ids        blob    not null,   -- zlib of the ids joined by newlines, as listed
    primary key (source_id, sale_date)
) without rowid;

create table if not exists raw_sales_events (
    event_id        integer primary key,
    sale_id         text    not null,   -- raw_sales.sale_id
    run_id          integer not null references loader_runs (run_id),
    event           text    not null check (event in ('retired', 'restored')),
    reason          text    not null
);
create index if not exists raw_sales_events_by_sale on raw_sales_events (sale_id, event_id);
create index if not exists raw_sales_events_by_run on raw_sales_events (run_id);
"""

# a day's ids as stored: (count, digest, compressed ids)
EncodedDay = tuple[int, bytes, bytes]


def encode_day(ids: Iterable[str]) -> EncodedDay:
    """A day's distinct ids in the order listed, as stored.

    Not sorted (sorting was a tenth of the parser's time): an unchanged sheet lists a day's
    ids in the same order, so its digest is unchanged; a day only reordered gets another
    digest and is compared id by id, which finds nothing missing.
    """
    count, text = _listed(ids)
    return count, _digest(text), zlib.compress(text, 1)


def day_digest(ids: Iterable[str]) -> tuple[int, bytes]:
    """(count, digest) of a day's ids, as :func:`encode_day` stores them, without compressing:
    the parser compares a day with the previous snapshot's before sending its rows."""
    count, text = _listed(ids)
    return count, _digest(text)


def _listed(ids: Iterable[str]) -> tuple[int, bytes]:
    distinct = list(dict.fromkeys(ids))
    return len(distinct), "\n".join(distinct).encode()


def _digest(text: bytes) -> bytes:
    return hashlib.blake2b(text, digest_size=16).digest()


def decode_day(blob: bytes) -> set[str]:
    text = zlib.decompress(blob).decode()
    return set(text.split("\n")) if text else set()


@dataclass(frozen=True, kw_only=True)
class SnapshotPolicy:
    on_missing: OnMissing = "retire"
    max_retire_share: float = 0.20  # of the previous snapshot's in-window sales
    allow_retire: bool = False  # accept a load over max_retire_share (or an empty sheet)


@dataclass
class SnapshotDiff:
    retired: int = 0
    aged_out: int = 0
    restored: int = 0


class Snapshot:
    """The ids of one load, received day by day while the sales are inserted, then compared."""

    def __init__(self, con: sqlite3.Connection, source: str):
        self._con = con
        con.execute("insert or ignore into snapshot_sources (source) values (?)", (source,))
        self._source = con.execute(
            "select source_id from snapshot_sources where source = ?", (source,)
        ).fetchone()[0]
        self._cursor = con.cursor()  # not the inserting cursor: it is busy with executemany
        self._cursor.execute(
            "create temp table if not exists snapshot_segments (sale_date text not null, sales integer not null, "
            "digest blob not null, sale_ids blob not null)"
        )
        self.reset()

    def add_day(self, sale_date: str, day: EncodedDay) -> None:
        """Record the ids of one day (or of one segment of a day, for a file not in date order)."""
        self._cursor.execute("insert into temp.snapshot_segments values (?, ?, ?, ?)", (sale_date, *day))

    def reset(self) -> None:
        self._cursor.execute("delete from temp.snapshot_segments")

    def apply(self, run_id: int, policy: SnapshotPolicy) -> SnapshotDiff:
        """Compare with the previous snapshot, record retirements and restorations, move on."""
        new = self._merged_days()
        previous = self.previous_days()
        first = min(new, default="0000-00-00")  # an empty sheet: every missing sale is in its window
        diff = SnapshotDiff()
        missing: list[str] = []  # in the window: to retire
        for day, (sales, digest) in previous.items():
            if day not in new:
                if day < first:
                    diff.aged_out += sales
                else:
                    missing += self._previous_ids(day)
            elif new[day][1] != digest:
                missing += self._previous_ids(day) - self._new_ids(day)
        if missing and policy.on_missing == "retire":
            listed = sum(sales for day, (sales, _digest) in previous.items() if day >= first)
            self._guard(len(missing), listed, sum(sales for sales, _digest in new.values()), policy)
            diff.retired = self._record(missing, run_id, "retired", "missing from the sheet")
        diff.restored = self._record(self._restored(new), run_id, "restored", "in the sheet again")
        self._replace(previous, new)
        return diff

    def previous_days(self) -> dict[str, tuple[int, bytes]]:
        """{day: (sales, digest)} of the previous snapshot of this source."""
        return {
            day: (sales, digest)
            for day, sales, digest in self._con.execute(
                "select sale_date, sales, digest from sales_snapshot_days where source_id = ?",
                (self._source,),
            )
        }

    def _merged_days(self) -> dict[str, tuple[int, bytes]]:
        """{day: (sales, digest)} of this load; a day sent in several segments is merged first."""
        con = self._con
        split = [
            day
            for (day,) in con.execute(
                "select sale_date from temp.snapshot_segments group by sale_date having count(*) > 1"
            )
        ]
        for day in split:
            ids: set[str] = set()
            for (blob,) in con.execute(
                "select sale_ids from temp.snapshot_segments where sale_date = ?", (day,)
            ):
                ids |= decode_day(blob)
            con.execute("delete from temp.snapshot_segments where sale_date = ?", (day,))
            self.add_day(day, encode_day(ids))
        return {
            day: (sales, digest)
            for day, sales, digest in con.execute(
                "select sale_date, sales, digest from temp.snapshot_segments"
            )
        }

    def _previous_ids(self, day: str) -> set[str]:
        (blob,) = self._con.execute(
            "select sale_ids from sales_snapshot_days where source_id = ? and sale_date = ?",
            (self._source, day),
        ).fetchone()
        return decode_day(blob)

    def _new_ids(self, day: str) -> set[str]:
        (blob,) = self._con.execute(
            "select sale_ids from temp.snapshot_segments where sale_date = ?", (day,)
        ).fetchone()
        return decode_day(blob)

    def _restored(self, new: dict[str, tuple[int, bytes]]) -> list[str]:
        """Retired sales in the sheet again (the events table is small: read it, probe the days)."""
        by_day: dict[str, list[str]] = {}
        for sale_id, day in self._con.execute(
            "select e.sale_id, r.sale_date from raw_sales_events as e join raw_sales as r using (sale_id) "
            "where e.event = 'retired' "
            "and e.event_id = (select max(x.event_id) from raw_sales_events as x where x.sale_id = e.sale_id)"
        ):
            if day in new:
                by_day.setdefault(day, []).append(sale_id)
        restored: list[str] = []
        for day, candidates in sorted(by_day.items()):
            listed = self._new_ids(day)
            restored += [sale_id for sale_id in candidates if sale_id in listed]
        return restored

    def _replace(self, previous: dict[str, tuple[int, bytes]], new: dict[str, tuple[int, bytes]]) -> None:
        """The new snapshot replaces the previous one: only the days that changed are written."""
        self._con.executemany(
            "delete from sales_snapshot_days where source_id = ? and sale_date = ?",
            [(self._source, day) for day in previous if day not in new],
        )
        changed = [day for day, (_sales, digest) in new.items() if previous.get(day, (0, b""))[1] != digest]
        self._con.executemany(
            "insert or replace into sales_snapshot_days (source_id, sale_date, sales, digest, sale_ids) "
            "select ?, sale_date, sales, digest, sale_ids from temp.snapshot_segments where sale_date = ?",
            [(self._source, day) for day in changed],
        )

    def _record(self, sale_ids: list[str], run_id: int, event: str, reason: str) -> int:
        """Append one event per sale to raw_sales_events; returns how many."""
        self._con.executemany(
            "insert into raw_sales_events (sale_id, run_id, event, reason) values (?, ?, ?, ?)",
            [(sale_id, run_id, event, reason) for sale_id in sale_ids],
        )
        return len(sale_ids)

    @staticmethod
    def _guard(retiring: int, previous: int, listed_now: int, policy: SnapshotPolicy) -> None:
        if policy.allow_retire:
            return
        if listed_now == 0:
            raise FeedError(
                f"the sales sheet has no sale any more (the previous load had {previous:,}): a sheet "
                "being rewritten? Nothing was changed; if it really is empty now, run with --allow-retire"
            )
        if retiring > policy.max_retire_share * previous:
            raise FeedError(
                f"this load would retire {retiring:,} of the {previous:,} sales the sheet listed for the "
                f"same dates ({retiring / previous:.0%}, over the {policy.max_retire_share:.0%} limit): a "
                "half-published sheet? Nothing was changed; if the deletions are real, run with "
                "--allow-retire (or raise --max-retire-share)"
            )


def migrate(con: sqlite3.Connection) -> None:
    """Warehouses made before sales_snapshot_days kept one row per id in ``sales_snapshot``:
    convert them once (inside the caller's transaction) and drop the old table."""
    if not con.execute(
        "select 1 from sqlite_master where type = 'table' and name = 'sales_snapshot'"
    ).fetchone():
        return
    rows = con.execute(
        "select p.source_id, r.sale_date, p.sale_id from sales_snapshot as p join raw_sales as r using (sale_id) "
        "order by p.source_id, r.sale_date"
    )
    # read while writing another table (SQLite allows it): one day of ids in memory at a time
    for (source_id, day), group in groupby(rows, key=itemgetter(0, 1)):
        con.execute(
            "insert or replace into sales_snapshot_days values (?, ?, ?, ?, ?)",
            (source_id, day, *encode_day(sale_id for _source, _day, sale_id in group)),
        )
    con.execute("drop table sales_snapshot")
