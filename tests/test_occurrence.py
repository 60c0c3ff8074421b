"""The occurrence counter: exact counts in bounded memory, disorder detected."""

from __future__ import annotations

import pytest

from loader.errors import OutOfOrder
from loader.occurrence import OccurrenceCounter


def next_occurrence(counter: OccurrenceCounter, key: str) -> int:
    """What the sales hot loop does for each key (it inlines this)."""
    n = counter.counts.get(key)
    if n is None:
        counter.first_seen(key)
        n = 0
    counter.counts[key] = n + 1
    return n + 1


def test_occurrence_counter_evicts_old_dates_and_detects_disorder() -> None:
    counter = OccurrenceCounter(max_keys=2)
    assert [
        next_occurrence(counter, k) for k in ("2023-01-01|a", "2023-01-01|a", "2023-01-02|b", "2023-01-03|c")
    ] == [
        1,
        2,
        1,
        1,
    ]
    assert "2023-01-01|a" not in counter.counts  # evicted
    with pytest.raises(OutOfOrder):
        next_occurrence(counter, "2023-01-01|z")
    unbounded = OccurrenceCounter(max_keys=None)
    assert [next_occurrence(unbounded, k) for k in ("2023-01-02|a", "2023-01-01|a", "2023-01-02|a")] == [
        1,
        1,
        2,
    ]
