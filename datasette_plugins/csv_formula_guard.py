"""Datasette plugin: CSV exports that a spreadsheet cannot execute.

The warehouse keeps what the client's sheets said, as received: a product named
``=HYPERLINK("http://...")`` or ``@SUM(A1)`` is data, and stays so in the database. But a CSV
export opened in Excel or LibreOffice would run it as a formula (CWE-1236). This ASGI wrapper
rewrites every CSV response of the storage service (``text/csv``, or a ``.csv`` path): a cell that starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return, and is not a plain number, gets a leading
``'`` (OWASP's advice), which spreadsheets show as text. It works on the streamed body
without holding it whole: complete records are rewritten as they arrive. A formula hidden
after a ``;`` or a tab inside a cell (``Bol;=HYPERLINK(...)``) is neutralised too: French Excel
splits a comma file on ``;``. The storage service's French Excel export (``excel_export.py``)
applies the same rule and is left alone here.
"""

from __future__ import annotations

import codecs
import csv
import io
import re

from datasette import hookimpl

EXCEL_PREFIX = "/-/excel/"  # excel_export.py

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?[0-9]+([.,][0-9]+)?([eE][+-]?[0-9]+)?$")
# what a spreadsheet may split a cell on, whatever the file's own separator: a French Excel
# opens a comma file splitting on ';', and a paste splits on tabs
_SPLITS = re.compile(r"([,;\t])")


def neutralise(cell: str) -> str:
    """``'=1+1`` for ``=1+1``, and ``a;'=1+1`` for ``a;=1+1``: every piece a spreadsheet could
    read as a cell (split on ``,``, ``;`` or a tab) that starts like a formula gets a leading
    ``'``; numbers such as ``-3.5`` and every other text unchanged."""
    if not any(char in cell for char in "=+-@\t\r"):
        return cell  # the common case, at no cost
    pieces = _SPLITS.split(cell)
    return "".join(
        "'" + piece if index % 2 == 0 and piece.startswith(TRIGGERS) and not _NUMBER.match(piece) else piece
        for index, piece in enumerate(pieces)
    )


class CsvGuard:
    """Rewrites a CSV text stream record by record; a record may span several chunks."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, text: str, final: bool = False) -> str:
        self._pending += text
        cut = self._complete_up_to(final)
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        if not ready:
            return ""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        for row in csv.reader(io.StringIO(ready, newline="")):
            writer.writerow([neutralise(cell) for cell in row])
        return out.getvalue()

    def _complete_up_to(self, final: bool) -> int:
        """Length of the prefix made of whole records (outside quotes, ending with a newline)."""
        if final:
            return len(self._pending)
        quoted, cut = False, 0
        for index, char in enumerate(self._pending):
            if char == '"':
                quoted = not quoted
            elif char == "\n" and not quoted:
                cut = index + 1
        return cut


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def guarded(scope, receive, send):
            if scope["type"] != "http" or scope["path"].startswith(EXCEL_PREFIX):
                return await app(scope, receive, send)  # the Excel export guards its own cells
            state: dict = {"guard": None}

            async def guarded_send(message):
                if message["type"] == "http.response.start":
                    headers = dict((k.lower(), v) for k, v in message.get("headers", []))
                    is_csv = headers.get(b"content-type", b"").startswith(b"text/csv")
                    # Datasette serves .csv as text/plain unless ?_dl=1 asks for a download
                    if is_csv or (scope["path"].endswith(".csv") and message["status"] == 200):
                        state["guard"] = CsvGuard()
                        state["decoder"] = codecs.getincrementaldecoder("utf-8")(errors="replace")
                        message = {
                            **message,
                            "headers": [
                                (k, v) for k, v in message["headers"] if k.lower() != b"content-length"
                            ],
                        }
                elif message["type"] == "http.response.body" and state["guard"] is not None:
                    final = not message.get("more_body", False)
                    chunk = state["decoder"].decode(message.get("body", b""), final)
                    text = state["guard"].feed(chunk, final)
                    message = {**message, "body": text.encode("utf-8")}
                await send(message)

            return await app(scope, receive, guarded_send)

        return guarded

    return wrap
