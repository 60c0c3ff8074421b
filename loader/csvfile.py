"""Open a fetched feed as CSV: encoding, delimiter and 'is this even a CSV?' checks.

Tolerates what spreadsheet exports produce: a UTF-8 BOM, CRLF or LF, a missing final
newline, ';' as delimiter (French Excel), quoted fields containing the delimiter.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import NotCsvError

DELIMITERS = (",", ";", "\t")


class _CountingReader(io.RawIOBase):
    """A raw file that counts the bytes read, for a progress bar that costs nothing per row."""

    def __init__(self, raw: io.BufferedReader):
        self._raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)
        self.bytes_read += n or 0
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


@dataclass
class CsvFeed:
    header: list[str]
    rows: Iterator[list[str]]  # a csv.reader; its ``line_num`` is the physical line number
    delimiter: str
    progress: _CountingReader

    @property
    def line_num(self) -> int:
        return self.rows.line_num  # type: ignore[attr-defined]


def detect_delimiter(header_line: str) -> str:
    """The delimiter that splits the header into the most fields (',' when tied)."""
    counts = {d: len(next(csv.reader([header_line], delimiter=d))) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))


def sniff(path: Path) -> str:
    """Read the start of the file and raise NotCsvError for empty, HTML or binary bodies."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not text:
        raise NotCsvError("the feed is empty: the sheet published no data (check the sheet and its URL)")
    lowered = text[:200].lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")):
        raise NotCsvError(
            "got an HTML page instead of CSV: the sheet is probably not published, or the link is not "
            "the CSV export (Google Sheets: File > Share > Publish to web > Comma-separated values)"
        )
    if b"\x00" in head:
        raise NotCsvError("the feed is binary, not CSV text (an .xlsx file?): export the sheet as CSV")
    return head.decode("utf-8-sig", errors="replace")


@contextlib.contextmanager
def open_csv(path: Path) -> Iterator[CsvFeed]:
    """Yield the header and a row reader; the delimiter is detected from the header line."""
    delimiter = detect_delimiter((sniff(path).splitlines() or [""])[0])
    raw = _CountingReader(path.open("rb"))
    buffered = io.BufferedReader(raw, buffer_size=1 << 20)
    text = io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")
    try:
        reader = csv.reader(text, delimiter=delimiter)
        header = next(reader, [])
        while header and not any(cell.strip() for cell in header):
            header = next(reader, [])
        if not header:
            raise NotCsvError("the feed has no header line: check that the sheet is not empty")
        yield CsvFeed(header=[h.strip() for h in header], rows=reader, delimiter=delimiter, progress=raw)
    except UnicodeDecodeError as exc:
        raise NotCsvError(
            f"the feed is not valid UTF-8 (byte {exc.start}): export it as 'CSV UTF-8'"
        ) from None
    finally:
        text.close()


def format_line(fields: list[str], delimiter: str) -> str:
    """Re-serialise a parsed row, for loader_rejects.raw_line."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="").writerow(fields)
    return out.getvalue()


def field_count_problem(row: list[str], expected: int) -> str | None:
    """None when the row can be read (extra blank trailing cells are fine), else the reason."""
    if len(row) > expected and not any(cell.strip() for cell in row[expected:]):
        return None
    return f"wrong column count: expected {expected} fields, got {len(row)}"
