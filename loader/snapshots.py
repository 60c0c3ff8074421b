"""The warehouse follows the sheet: each sales load is a full snapshot of its source, compared
with the previous snapshot of the same source.

People edit the client's sheet: a quantity corrected (2 -> 20), a mistyped line deleted, and,
if the sheet is a rolling window, its oldest days dropped every day. Appending only would
count an edited line twice. So, per source, ``sales_snapshot`` holds the sale ids of the
latest loaded snapshot, and each load compares its ids with them, as multisets of sale ids
(natural key + occurrence number, so deleting one of two identical lines is exact):

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

Cost: one extra pass over the snapshot's ids (a temporary table filled during the insert)
and two anti-joins, proportional to the sheet; nothing when the sheet is unchanged (the
sha256 shortcut never gets here).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

from .errors import FeedError

OnMissing = Literal["retire", "keep"]

DDL = """
create table if not exists snapshot_sources (
    source_id       integer primary key,
    source          text    not null unique  -- the URL or path of a sales feed
);

create table if not exists sales_snapshot (
    source_id       integer not null references snapshot_sources (source_id),
    sale_id         text    not null,   -- in the latest loaded snapshot of that source
    primary key (source_id, sale_id)
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


@dataclass(frozen=True)
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
    """The ids of one load, collected while the sales are inserted, then compared."""

    def __init__(self, con: sqlite3.Connection, source: str):
        self._con = con
        con.execute("insert or ignore into snapshot_sources (source) values (?)", (source,))
        self._source = con.execute(
            "select source_id from snapshot_sources where source = ?", (source,)
        ).fetchone()[0]
        self._cursor = con.cursor()  # not the inserting cursor: it is busy with executemany
        self._cursor.execute(
            "create temp table if not exists snapshot_ids (sale_id text primary key) without rowid"
        )
        self._cursor.execute("delete from temp.snapshot_ids")
        self._statements: dict[int, str] = {}
        self.first_date: str | None = None
        self.count = 0

    def add(self, ids: list[str], dates: list[str]) -> None:
        """Record a batch's sale ids and dates (a file may list an id twice: own id columns)."""
        if not ids:
            return
        statement = self._statements.get(len(ids))
        if statement is None:  # one statement per batch: the per-statement cost dominates
            values = ", ".join(["(?)"] * len(ids))
            statement = self._statements[len(ids)] = (
                f"insert or ignore into temp.snapshot_ids values {values}"
            )
        self._cursor.execute(statement, ids)
        first = min(dates)
        if self.first_date is None or first < self.first_date:
            self.first_date = first
        self.count += len(ids)

    def reset(self) -> None:
        self._cursor.execute("delete from temp.snapshot_ids")
        self.first_date, self.count = None, 0

    def apply(self, run_id: int, policy: SnapshotPolicy) -> SnapshotDiff:
        """Compare with the previous snapshot, record retirements and restorations, move on."""
        con, source = self._con, self._source
        missing = con.execute(
            "select p.sale_id, r.sale_date from sales_snapshot as p join raw_sales as r using (sale_id) "
            "where p.source_id = ? and not exists (select 1 from temp.snapshot_ids as t where t.sale_id = p.sale_id)",
            (source,),
        ).fetchall()
        # retired sales in the sheet again (the events table is small: scan it, probe the ids)
        restored = [
            sale_id
            for (sale_id,) in con.execute(
                "select e.sale_id from raw_sales_events as e where e.event = 'retired' "
                "and e.event_id = (select max(x.event_id) from raw_sales_events as x where x.sale_id = e.sale_id) "
                "and exists (select 1 from temp.snapshot_ids as t where t.sale_id = e.sale_id)"
            )
        ]
        first = self.first_date or "0000-00-00"  # an empty sheet: every missing sale is in its window
        aged = [sale_id for sale_id, day in missing if day < first]
        in_window = [sale_id for sale_id, day in missing if day >= first]
        diff = SnapshotDiff(aged_out=len(aged))
        if in_window and policy.on_missing == "retire":
            self._guard(len(in_window), first, policy)
            diff.retired = self._record(in_window, run_id, "retired", "missing from the sheet")
        diff.restored = self._record(restored, run_id, "restored", "in the sheet again")
        con.executemany(
            "delete from sales_snapshot where source_id = ? and sale_id = ?",
            [(source, s) for s, _ in missing],
        )
        con.execute(
            "insert or ignore into sales_snapshot (source_id, sale_id) select ?, sale_id from temp.snapshot_ids",
            (source,),
        )
        return diff

    def _record(self, sale_ids: list[str], run_id: int, event: str, reason: str) -> int:
        """Append one event per sale to raw_sales_events; returns how many."""
        self._con.executemany(
            "insert into raw_sales_events (sale_id, run_id, event, reason) values (?, ?, ?, ?)",
            [(sale_id, run_id, event, reason) for sale_id in sale_ids],
        )
        return len(sale_ids)

    def _guard(self, retiring: int, first: str, policy: SnapshotPolicy) -> None:
        if policy.allow_retire:
            return
        previous = self._con.execute(
            "select count(*) from sales_snapshot as p join raw_sales as r using (sale_id) "
            "where p.source_id = ? and r.sale_date >= ?",
            (self._source, first),
        ).fetchone()[0]
        if self.count == 0:
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
