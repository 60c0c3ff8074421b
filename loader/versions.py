"""Products and stores: slowly changing feeds, kept as versions (a row per content change).

The feeds list every product (store) each time; the raw table gets a new row for a key only
when its content differs from the latest stored version of that key, so A -> B -> A stores
three versions and an unchanged feed stores nothing. The content is compared through a hash
of the parsed values, so a price written '49,90' then '49.9' is not a change.
"""

from __future__ import annotations

import hashlib
import sqlite3

from .audit import Rejects
from .csvfile import CsvFeed, field_count_problem, readable_rows
from .errors import InvalidValue
from .feeds import FeedSpec
from .progress import Progress
from .values import Limits


def insert_statement(spec: FeedSpec) -> str:
    """The insert of one version: typed values, hash, values as received, then provenance."""
    columns = [
        *(c.typed for c in spec.columns),
        "content_hash",
        *(c.raw for c in spec.columns),
        "line_number",
        "load_run_id",
        "loaded_at",
        "source",
    ]
    return f"insert into {spec.table} ({', '.join(columns)}) values ({', '.join('?' * len(columns))})"


def content_hash(typed: list[object], key_index: int) -> str:
    """sha256 of the parsed values, key first then the others in published order.

    The order is part of the stored data (content_hash): changing it would make every key
    look changed once, so it stays as the first version of the loader wrote it.
    """
    ordered = [typed[key_index], *typed[:key_index], *typed[key_index + 1 :]]
    return hashlib.sha256("\x1f".join(map(repr, ordered)).encode()).hexdigest()


def load_versions(
    con: sqlite3.Connection,
    spec: FeedSpec,
    feed: CsvFeed,
    *,
    mapping: dict[str, int],
    run_id: int,
    loaded_at: str,
    source: str,
    rejects: Rejects,
    progress: Progress,
    limits: Limits,
) -> tuple[int, int]:
    """Append a new version of each key whose content changed; returns (inserted, duplicate).

    A key listed twice in one file with different content is ambiguous: the later line is
    rejected. Runs inside the caller's transaction.
    """
    parsers = [(c.name, mapping[c.name], c.parser(limits)) for c in spec.columns]
    key_index = spec.field_names.index(spec.key)
    key_column = spec.column(spec.key).typed
    width = len(feed.header)
    seen: dict[str, tuple[str, int]] = {}  # key -> (content hash, line)
    new_rows: list[tuple] = []
    duplicates = 0
    for row in readable_rows(feed, rejects.add):
        line = feed.line_num
        if len(row) != width:
            if not any(cell.strip() for cell in row):
                continue
            problem = field_count_problem(row, width)
            if problem:
                rejects.add(line, row, problem)
                continue
        try:
            typed = [parse(row[index]) for _name, index, parse in parsers]
        except InvalidValue as exc:
            rejects.add(line, row, str(exc))
            continue
        key = typed[key_index]
        digest = content_hash(typed, key_index)
        if key in seen:
            first_hash, first_line = seen[key]
            if first_hash == digest:
                duplicates += 1
            else:
                rejects.add(
                    line,
                    row,
                    f"{key_column} {key!r} listed twice with different values (first on line {first_line})",
                )
            continue
        seen[key] = (digest, line)
        received = [row[index] for _name, index, _parse in parsers]
        new_rows.append((key, (*typed, digest, *received, line)))
    progress.update(feed.progress.bytes_read)

    latest = dict(
        con.execute(
            f"select {key_column}, content_hash from {spec.table} as v where version_id = "
            f"(select max(version_id) from {spec.table} where {key_column} = v.{key_column})"
        ).fetchall()
    )
    changed = [values for key, values in new_rows if latest.get(key) != values[len(parsers)]]
    con.executemany(insert_statement(spec), [(*values, run_id, loaded_at, source) for values in changed])
    return len(changed), duplicates + len(new_rows) - len(changed)
