"""Bring a feed to a local file: HTTP(S) with retries and conditional GET, or a local path.

A remote body is streamed to a temporary file while it is hashed, so memory stays flat
whatever the size, and nothing is parsed (or written to the warehouse) until the whole
body has arrived intact.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests

from .errors import FetchError

CHUNK = 1 << 20
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class HttpOptions:
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 4
    backoff: float = 1.0  # seconds before the first retry, doubled after each
    max_retry_after: float = 60.0


@dataclass(frozen=True)
class Validators:
    """What the last successful load of a URL remembered, for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Fetched:
    path: Path | None  # None when the server answered 304 Not Modified
    size: int
    sha256: str | None
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.path is None


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def is_url(source: str) -> bool:
    return urlparse(source).scheme in ("http", "https")


def fetch(
    source: str,
    dest: Path,
    previous: Validators | None = None,
    options: HttpOptions | None = None,
) -> Fetched:
    """Fetch ``source`` (http(s) URL, file:// URL or path); remote bodies land in ``dest``."""
    if is_url(source):
        return _fetch_http(source, dest, previous or Validators(), options or HttpOptions())
    return _local(source)


def _local(source: str) -> Fetched:
    parsed = urlparse(source)
    path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(source)
    if parsed.scheme not in ("", "file") and len(parsed.scheme) > 1:
        raise FetchError(f"unsupported source {source!r}: use an http(s) URL, a file:// URL or a path")
    if not path.is_file():
        raise FetchError(f"file not found: {path} (check the path, or set the feed's URL)")
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return Fetched(path=path, size=size, sha256=digest.hexdigest())


def _fetch_http(url: str, dest: Path, previous: Validators, options: HttpOptions) -> Fetched:
    http = requests.Session()
    headers = {"Accept": "text/csv, text/plain;q=0.9, */*;q=0.1"}
    if previous.etag:
        headers["If-None-Match"] = previous.etag
    if previous.last_modified:
        headers["If-Modified-Since"] = previous.last_modified
    try:
        for attempt in range(options.retries + 1):
            try:
                return _get_once(http, url, dest, headers, options)
            except _Retryable as exc:
                if attempt == options.retries:
                    raise FetchError(
                        f"{exc} after {options.retries + 1} attempts: the server at {url} is failing or "
                        "unreachable; try again later or check the URL"
                    ) from None
                delay = options.backoff * 2**attempt
                if exc.retry_after is not None:
                    delay = min(max(delay, exc.retry_after), options.max_retry_after)
                time.sleep(delay)
    finally:
        http.close()
    raise AssertionError("unreachable")


def _get_once(
    http: requests.Session, url: str, dest: Path, headers: dict[str, str], options: HttpOptions
) -> Fetched:
    timeout = (options.connect_timeout, options.read_timeout)
    try:
        with http.get(url, headers=headers, stream=True, timeout=timeout, allow_redirects=True) as resp:
            if resp.status_code == 304:
                return Fetched(
                    path=None,
                    size=0,
                    sha256=None,
                    etag=resp.headers.get("ETag") or headers.get("If-None-Match"),
                    last_modified=resp.headers.get("Last-Modified") or headers.get("If-Modified-Since"),
                )
            if resp.status_code in RETRY_STATUSES:
                raise _Retryable(f"HTTP {resp.status_code}", _retry_after(resp))
            if resp.status_code >= 400:
                hint = {
                    404: "the sheet or URL does not exist: check the link",
                    401: "the sheet is not public: publish it to the web as CSV",
                    403: "the sheet is not public: publish it to the web as CSV",
                }.get(resp.status_code, "check the URL")
                raise FetchError(f"HTTP {resp.status_code} from {url}: {hint}")
            digest = hashlib.sha256()
            size = 0
            with dest.open("wb") as out:
                for chunk in resp.iter_content(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            expected = resp.headers.get("Content-Length")
            if expected and not resp.headers.get("Content-Encoding") and int(expected) != size:
                raise _Retryable(f"truncated download ({size} of {expected} bytes)")
            return Fetched(
                path=dest,
                size=size,
                sha256=digest.hexdigest(),
                etag=resp.headers.get("ETag"),
                last_modified=resp.headers.get("Last-Modified"),
            )
    except requests.exceptions.ChunkedEncodingError as exc:
        raise _Retryable(f"truncated download ({_short(exc)})") from None
    except requests.exceptions.Timeout as exc:
        raise _Retryable(f"timed out ({_short(exc)})") from None
    except requests.exceptions.ConnectionError as exc:
        raise _Retryable(f"connection failed ({_short(exc)})") from None
    except requests.exceptions.InvalidURL as exc:
        raise FetchError(f"invalid URL {url!r}: {exc}") from None


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After", "")
    try:
        return float(value)
    except ValueError:
        return None


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 160 else text[:157] + "..."
