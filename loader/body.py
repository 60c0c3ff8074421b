"""Receive an HTTP body to a file, and know it is whole: the wire bytes are counted against
Content-Length, a compressed stream must reach its end marker, and the body is hashed and
checked for UTF-8 as it arrives (one pass, flat memory). A deadline and a size limit bound
what a slow or endless server costs.
"""

from __future__ import annotations

import codecs
import hashlib
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from .errors import FetchError, Truncated

CHUNK = 1 << 20


class Body:
    """Hashes a body as it arrives, and notes where it stops being valid UTF-8."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self.size = 0
        self._invalid_at: int | None = None
        self.first_nul: int | None = None  # byte offset of the first NUL byte (a memchr per chunk)

    def add(self, chunk: bytes) -> None:
        self._digest.update(chunk)
        if self.first_nul is None and (at := chunk.find(b"\x00")) >= 0:
            self.first_nul = self.size + at
        if self._invalid_at is None:
            try:
                self._utf8.decode(chunk)
            except UnicodeDecodeError as exc:
                self._invalid_at = self.size + max(exc.start, 0)
        self.size += len(chunk)

    def sha256(self) -> str:
        return self._digest.hexdigest()

    def first_invalid_utf8(self) -> int | None:
        """Byte offset where the body stops being UTF-8 (a sequence cut at the end counts); None if valid."""
        if self._invalid_at is None:
            try:
                self._utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                self._invalid_at = self.size
        return self._invalid_at


@dataclass(frozen=True)
class Received:
    body: Body
    charset: str | None  # as declared in Content-Type
    verified: bool  # False: no length, not chunked, not compressed: the end could not be checked


def _inflated(inflate: zlib._Decompress, chunk: bytes) -> Iterator[bytes]:
    """Decompress ``chunk`` at most CHUNK bytes at a time: a few kilobytes of gzip can inflate to
    gigabytes (a gzip bomb), which must never be held in memory at once."""
    piece = inflate.decompress(chunk, CHUNK)
    while piece:
        yield piece
        piece = inflate.decompress(inflate.unconsumed_tail, CHUNK) if inflate.unconsumed_tail else b""


def receive(
    resp: requests.Response, dest: Path, max_seconds: float, max_bytes: int, deadline: float
) -> Received:
    """Stream the body to ``dest``: wire bytes counted, decompressed if need be, limits enforced."""
    encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("identity", "", "gzip", "x-gzip", "deflate"):
        raise FetchError(
            f"the server sent the body with Content-Encoding {encoding[:30]!r}, which is unsupported"
        )
    inflate = zlib.decompressobj(wbits=47) if encoding not in ("identity", "") else None
    declared = resp.headers.get("Content-Length")
    chunked = "chunked" in resp.headers.get("Transfer-Encoding", "").lower()
    body, wire = Body(), 0
    try:
        with dest.open("wb") as out:
            while True:
                if time.monotonic() > deadline:
                    raise FetchError(
                        f"the download took longer than {max_seconds:g} s (--max-seconds): the "
                        "server is too slow; try again later"
                    )
                chunk = resp.raw.read1(CHUNK, decode_content=False)
                if not chunk:
                    break
                wire += len(chunk)
                for piece in _inflated(inflate, chunk) if inflate is not None else (chunk,):
                    if body.size + len(piece) > max_bytes:  # decompressed bytes: a gzip bomb stops here
                        raise FetchError(
                            f"the body is larger than {max_bytes:,} bytes (--max-bytes, counted "
                            "decompressed): check the URL, or raise the limit"
                        )
                    body.add(piece)
                    out.write(piece)
    except zlib.error:
        raise FetchError(f"the body claims {encoding} compression but is not {encoding} data") from None
    if declared is not None and declared.isdigit() and int(declared) != wire:
        raise Truncated(f"truncated download ({wire} of {declared} bytes)")
    if inflate is not None and not inflate.eof:
        raise Truncated(f"truncated download (the {encoding} stream has no end)")
    charset = resp.headers.get("Content-Type", "").partition("charset=")[2].split(";")[0].strip(' "') or None
    return Received(body, charset, verified=declared is not None or chunked or inflate is not None)
