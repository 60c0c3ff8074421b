"""Open a fetched feed as CSV: encoding, delimiter and 'is this even a CSV?' checks.

Tolerates what spreadsheet exports produce: a UTF-8 BOM, CRLF or LF, a missing final
newline, ';' as delimiter (French Excel), quoted fields containing the delimiter.

Encodings people actually send (:func:`choose_encoding`): UTF-8 with or without BOM; UTF-16
with a BOM; the charset the server declares; and cp1252, what French Excel writes for
"CSV (séparateur: point-virgule)", when the bytes are not valid UTF-8. A field is at most
FIELD_LIMIT characters: a stray quote that would swallow the rest of the file becomes one
bounded reject (:func:`unreadable`) and reading goes on after it.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .body import CHUNK
from .errors import NotCsvError

DELIMITERS = (",", ";", "\t")
FIELD_LIMIT = 1 << 16  # characters in one field; the csv module raises csv.Error past it
csv.field_size_limit(FIELD_LIMIT)
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


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
    encoding: str

    @property
    def line_num(self) -> int:
        return self.rows.line_num  # type: ignore[attr-defined]


def detect_delimiter(header_line: str) -> str:
    """The delimiter that splits the header into the most fields (',' when tied)."""
    counts = {d: len(next(csv.reader([header_line], delimiter=d))) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))


def choose_encoding(path: Path, declared: str | None, first_invalid_utf8: int | None) -> str:
    """The encoding to read the file with: a BOM, else the server's charset, else UTF-8 when
    the bytes are valid UTF-8 (``first_invalid_utf8`` is None), else cp1252."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith(UTF16_BOMS):
        return "utf-16"
    if declared:
        try:
            name = codecs.lookup(declared).name
        except LookupError:
            raise NotCsvError(
                f"the server declares the charset {declared[:40]!r}, which is unknown: fix the "
                "Content-Type, or serve the file as UTF-8"
            ) from None
        if name != "utf-8" or first_invalid_utf8 is None:
            return "utf-8-sig" if name == "utf-8" else name
        raise NotCsvError(
            f"the server declares UTF-8 but the body is not valid UTF-8 (byte {first_invalid_utf8}): "
            "export it as 'CSV UTF-8'"
        )
    return "utf-8-sig" if first_invalid_utf8 is None else "cp1252"


def refuse_nul(path: Path, first_nul: int | None, encoding: str) -> None:
    """A NUL byte anywhere in a text feed is binary data where a sheet export has none: the feed
    is refused with the line it is on (found while the body arrived: ``Body.first_nul``), rather
    than stored as text nobody can see. In UTF-16, NUL bytes are part of every character."""
    if first_nul is None or encoding.startswith(("utf-16", "utf_16", "utf-32", "utf_32")):
        return
    line = 1
    with path.open("rb") as handle:
        left = first_nul
        while left > 0:
            block = handle.read(min(left, CHUNK))
            if not block:
                break
            line += block.count(b"\n")
            left -= len(block)
    raise NotCsvError(
        f"the feed has a NUL byte on line {line} (byte {first_nul}): binary data, or UTF-16 without a "
        "byte order mark; nothing was stored: fix that line in the sheet, or export it again as 'CSV UTF-8'"
    )


def sniff(path: Path, encoding: str = "utf-8-sig") -> str:
    """Read the start of the file and raise NotCsvError for empty, HTML or binary bodies."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if encoding.startswith("utf-16"):
        return head.decode("utf-16", errors="replace")
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not text:
        raise NotCsvError("the feed is empty: the sheet published no data (check the sheet and its URL)")
    lowered = text[:200].lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")):
        raise NotCsvError(
            "got an HTML page instead of CSV: the sheet is probably not published, or the link is not "
            "the CSV export (Google Sheets: File > Share > Publish to web > Comma-separated values)"
        )
    if head.startswith(b"PK\x03\x04"):
        raise NotCsvError("the feed is a spreadsheet file (.xlsx/.ods), not CSV: export the sheet as CSV")
    return head.decode(encoding, errors="replace")


@contextlib.contextmanager
def open_csv(path: Path, encoding: str = "utf-8-sig") -> Iterator[CsvFeed]:
    """Yield the header and a row reader; the delimiter is detected from the header line.

    Raises NotCsvError when the first data line is not split like the header (a header
    written with ';' above rows written with ',' would reject every row).
    """
    lines = [line for line in sniff(path, encoding).splitlines() if line.strip()]
    delimiter = detect_delimiter(lines[0] if lines else "")
    _check_split(lines, delimiter)
    raw = _CountingReader(path.open("rb"))
    buffered = io.BufferedReader(raw, buffer_size=1 << 20)
    text = io.TextIOWrapper(buffered, encoding=encoding, newline="")
    try:
        reader = csv.reader(text, delimiter=delimiter)
        header = next(reader, [])
        while header and not any(cell.strip() for cell in header):
            header = next(reader, [])
        if not header:
            raise NotCsvError("the feed has no header line: check that the sheet is not empty")
        yield CsvFeed([h.strip() for h in header], reader, delimiter, raw, encoding)
    except UnicodeDecodeError:
        raise NotCsvError(
            f"the feed is not valid {encoding} (near byte {raw.bytes_read}): export it as 'CSV UTF-8'"
        ) from None
    finally:
        text.close()


def _check_split(lines: list[str], delimiter: str) -> None:
    """The first data line must split into the header's fields with the header's delimiter."""
    if len(lines) < 2 or len(lines[1]) >= 4000:  # no data line, or one longer than the sniffed head
        return
    header_width = len(next(csv.reader([lines[0]], delimiter=delimiter)))
    row_width = len(next(csv.reader([lines[1]], delimiter=delimiter)))
    if header_width > 1 and row_width == 1:
        other = max(DELIMITERS, key=lambda d: len(next(csv.reader([lines[1]], delimiter=d))))
        if len(next(csv.reader([lines[1]], delimiter=other))) == header_width:
            raise NotCsvError(
                f"the header is split by {delimiter!r} but the rows by {other!r}: re-export the "
                "sheet so that header and rows use the same separator"
            )


def readable_rows(
    feed: CsvFeed, on_unreadable: Callable[[int, list[str], str], None] | None = None
) -> Iterator[list[str]]:
    """The feed's rows, going on after a line the csv module cannot read.

    Such a line is handed to ``on_unreadable`` as a reject (line, fields, reason), or skipped.
    The sales hot loop inlines this loop instead, to save a generator step per row.
    """
    while True:
        try:
            yield from feed.rows
            return
        except csv.Error as exc:
            if on_unreadable is not None:
                on_unreadable(*unreadable(feed.line_num, exc))


def unreadable(line_number: int, exc: csv.Error) -> tuple[int, list[str], str]:
    """A reject for what the csv module could not read; reading goes on at the next line."""
    return (
        line_number,
        [],
        f"unreadable CSV up to line {line_number} ({exc}): a quote opened and never closed, or a "
        f"field over {FIELD_LIMIT} characters",
    )


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
