"""The landing archive: every body the loader stored something from, kept for good.

The client's sales sheet keeps 30 days; the warehouse is then the only record of a sale. The
archive makes that record rebuildable: each body a committed load read is kept compressed,
named by its content digest (``<folder>/bodies/<sha256[:2]>/<sha256>.csv.gz``: the same body
twice is one file, an unchanged sheet adds nothing), and a journal (``journal.jsonl``) lists the
committed loads in order, each with the options the body was read with. Replaying the journal
into an empty warehouse gives the same raw sales, occurrence numbers, retirements and
restorations (``pipeline rebuild``); replaying what came after a backup completes a restore.

Durability, in the order of a load:

1. the body is compressed to a temporary file, fsynced, renamed to its digest's name and the
   folder fsynced, *before* the load's transaction commits (:meth:`Archive.keep`);
2. the transaction commits, with ``loader_runs.archive_seq`` (the journal sequence number,
   taken inside the transaction: one writer at a time) and ``read_options``;
3. the journal line is appended and fsynced (:meth:`Archive.record`).

A crash between 2 and 3 leaves a committed run without its journal line: the next load adds
the missing lines from ``loader_runs`` first (:meth:`Archive.catch_up`). A crash between 1 and
2 leaves an archived body no journal line names: harmless (it is not replayed, as its load did
not commit). A torn last journal line (a crash during an append) is ignored.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from .durable import fsync_path
from .errors import ArchiveError

JOURNAL = "journal.jsonl"
TAIL_BYTES = 64 << 10  # the journal's tail read for its last number: hundreds of lines


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One committed load of one feed: what to replay, and how."""

    seq: int  # the journal's order, also in loader_runs.archive_seq
    feed: str
    source: str  # the source as the warehouse knows it (snapshots and date order are per source)
    sha256: str  # the archived body
    started_at: str
    loaded_at: str
    options: dict  # loader_runs.read_options: encoding, date format, sale-id column, limits, policy


def default_dir(db: Path) -> Path:
    """``archive/`` beside the warehouse."""
    return Path(db).resolve().parent / "archive"


class Archive:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def body_path(self, sha256: str) -> Path:
        return self.folder / "bodies" / sha256[:2] / f"{sha256}.csv.gz"

    def keep(self, body: Path, sha256: str) -> Path:
        """The body, compressed and durable under its digest's name (nothing if already kept)."""
        final = self.body_path(sha256)
        if final.is_file():
            return final
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=".", suffix=".partial", dir=final.parent)
            try:
                with (
                    os.fdopen(handle, "wb") as raw,
                    gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as out,
                ):
                    with open(body, "rb") as source:
                        shutil.copyfileobj(source, out, 1 << 20)
                    out.close()
                    raw.flush()
                    os.fsync(raw.fileno())
                os.replace(name, final)
            except BaseException:
                Path(name).unlink(missing_ok=True)
                raise
            fsync_path(final.parent)
        except OSError as exc:
            raise ArchiveError(
                f"cannot write the landing archive in {self.folder}: {exc} (free some space, fix the "
                "folder's permissions, or pass --archive-dir / --no-archive)"
            ) from None
        return final

    def record(self, entry: Entry) -> None:
        """Append the entry to the journal, durably (after its load committed)."""
        self._append([entry])

    def entries(self) -> list[Entry]:
        """The journal, in sequence order; a torn last line is skipped."""
        path = self.folder / JOURNAL
        if not path.is_file():
            return []
        found: dict[int, Entry] = {}
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                try:
                    entry = Entry(**json.loads(line))
                except (ValueError, TypeError):
                    continue  # a line cut by a crash during its append
                found[entry.seq] = entry
        return [found[seq] for seq in sorted(found)]

    def last_seq(self) -> int:
        """The highest sequence number journaled, read from the journal's tail only: it is asked
        inside every archived load's transaction, and the journal grows with the whole history.
        Lines are appended in about the order of their numbers (two loaders may swap two), so
        the highest of the tail's lines is the highest of all."""
        path = self.folder / JOURNAL
        if not path.is_file():
            return 0
        with open(path, "rb") as journal:
            start = max(0, journal.seek(0, os.SEEK_END) - TAIL_BYTES)
            journal.seek(start)
            tail = journal.read().decode("utf-8", errors="replace").splitlines()
        seqs = []
        for line in tail[1:] if start else tail:  # after a seek, the first line may be cut
            with contextlib.suppress(ValueError, TypeError, KeyError):
                seqs.append(int(json.loads(line)["seq"]))
        return max(seqs, default=0)

    def catch_up(self, con: sqlite3.Connection) -> int:
        """Journal lines for the committed runs that have none (a crash after their commit)."""
        rows = con.execute(
            """select archive_seq, feed, source, sha256, started_at, loaded_at, read_options
               from loader_runs where archive_seq > ? and status = 'loaded' order by archive_seq""",
            (self.last_seq(),),
        ).fetchall()
        missing = [
            Entry(seq=r[0], feed=r[1], source=r[2], sha256=r[3], started_at=r[4], loaded_at=r[5],
                  options=json.loads(r[6] or "{}"))
            for r in rows
        ]  # fmt: skip
        self._append(missing)
        return len(missing)

    @contextlib.contextmanager
    def opened(self, entry: Entry) -> Iterator[Path]:
        """The entry's body, decompressed to a temporary file for the time of a replay."""
        stored = self.body_path(entry.sha256)
        if not stored.is_file():
            raise ArchiveError(f"the archive {self.folder} lacks the body {entry.sha256} of load {entry.seq}")
        with tempfile.TemporaryDirectory(prefix="ventes-replay-") as work:
            body = Path(work) / f"{entry.feed}.csv"
            with gzip.open(stored, "rb") as source, open(body, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            yield body

    def _append(self, entries: list[Entry]) -> None:
        if not entries:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / JOURNAL, "a+", encoding="utf-8") as journal:
                fcntl.flock(journal, fcntl.LOCK_EX)  # two loaders append whole lines
                if journal.tell() > 0:  # a line torn by a crash must not swallow the next one
                    journal.seek(journal.tell() - 1)
                    if journal.read(1) != "\n":
                        journal.write("\n")
                for entry in entries:
                    journal.write(json.dumps(asdict(entry), ensure_ascii=False, sort_keys=True) + "\n")
                journal.flush()
                os.fsync(journal.fileno())
        except OSError as exc:
            raise ArchiveError(f"cannot write the archive's journal in {self.folder}: {exc}") from None
