"""Count the occurrences of each natural key in one file, in bounded memory.

The sales feed has no id: two identical lines are two sales, so a line's id is its key
plus "this is the n-th time the key appears in the file". A dict of every key seen is
the fastest counter but grows with the number of distinct keys (a 10M-line feed would
need gigabytes).

Keys start with their ISO sale date, and a live sales feed is appended in date order.
So when the dict is full, the counter forgets every key dated before the latest date
seen: in a date-ordered file those dates never come back. If one does come back (the
file is not in date order), the count would be wrong, so the counter raises
:class:`OutOfOrder` and the caller starts the file again with an unbounded counter:
always exact, bounded memory in the usual case.
"""

from __future__ import annotations

from .errors import OutOfOrder

DEFAULT_MAX_KEYS = 100_000  # keys held before evicting old dates: about 10 MB


class OccurrenceCounter:
    """The hot loop reads and writes ``counts`` itself and calls :meth:`first_seen` on a miss."""

    def __init__(self, max_keys: int | None = DEFAULT_MAX_KEYS):
        self.counts: dict[str, int] = {}
        self._max_keys = max_keys
        self._horizon = ""  # every key dated before this date has been evicted

    def first_seen(self, key: str) -> None:
        """Prepare for a key not in ``counts``: check it is countable, make room if full."""
        date = key[:10]
        if date < self._horizon:
            raise OutOfOrder(date)
        if self._max_keys is not None and len(self.counts) >= self._max_keys:
            self._evict()

    def _evict(self) -> None:
        latest = max(key[:10] for key in self.counts)
        kept = {key: n for key, n in self.counts.items() if key[:10] >= latest}
        self.counts.clear()
        self.counts.update(kept)
        self._horizon = latest
        assert self._max_keys is not None
        if len(kept) > self._max_keys // 2:  # one huge day: grow rather than evict on every key
            self._max_keys *= 2
