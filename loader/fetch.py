"""Bring a feed to a local file: HTTP(S) with retries and conditional GET, or a local path.

A remote body is streamed to a temporary file while it is hashed and checked for UTF-8, so
memory stays flat whatever the size, and nothing is parsed (or written to the warehouse)
until the whole body has arrived intact. "Intact" is checked on the wire bytes: the loader
asks for an uncompressed body, counts what the socket delivered against Content-Length,
and when a server compresses anyway, requires the compressed stream's end marker. A body
that cannot be verified (no length, not chunked: it ends when the connection closes) is
fetched a second time and loaded only if both copies are identical. An overall deadline
(``max_seconds``) and a size limit (``max_bytes``) bound what a slow or endless server costs.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests
import urllib3

from .body import CHUNK, Body, receive
from .errors import DeadlineExpired, FetchError, Retryable, Truncated
from .urlpolicy import MAX_REDIRECTS, check_redirect

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, kw_only=True)
class HttpOptions:
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 4
    backoff: float = 1.0  # seconds before the first retry, doubled after each
    max_retry_after: float = 60.0
    max_seconds: float = 900.0  # overall deadline of one feed's download, retries included
    max_bytes: int = 2 << 30  # a body larger than this is refused


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
    charset: str | None = None  # as the server declared it in Content-Type
    first_invalid_utf8: int | None = None  # byte offset; None when the body is valid UTF-8
    first_nul: int | None = None  # byte offset of the first NUL byte; None when there is none

    @property
    def not_modified(self) -> bool:
        return self.path is None


def is_url(source: str) -> bool:
    return urlparse(source).scheme in ("http", "https")


def source_identity(source: str) -> str:
    """What ``source`` is, whatever its spelling: a local file's real path (symlinks, ``..``, a
    relative path and a file:// URL resolved), an http(s) URL with its scheme and host in lower
    case. The guards that compare a load with the previous one of the same sheet key on it."""
    parsed = urlparse(source)
    if parsed.scheme in ("http", "https"):
        return parsed._replace(scheme=parsed.scheme.lower(), netloc=parsed.netloc.lower()).geturl()
    if parsed.scheme == "file":
        return str(Path(unquote(parsed.path)).resolve())
    if parsed.scheme and len(parsed.scheme) > 1:
        return source  # not a source the loader reads: fetch says so
    return str(Path(source).resolve())


def fetch(
    source: str,
    dest: Path,
    previous: Validators | None = None,
    options: HttpOptions | None = None,
    confine_to: Path | None = None,
) -> Fetched:
    """Fetch ``source`` (http(s) URL, file:// URL or path); remote bodies land in ``dest``.

    With ``confine_to``, a local source must be a regular file inside that folder (not a
    symlink, not a device): a feed folder cannot be used to read any file of the machine.
    """
    if is_url(source):
        return _fetch_http(source, dest, previous or Validators(), options or HttpOptions())
    return _local(source, confine_to)


def _local(source: str, confine_to: Path | None = None) -> Fetched:
    parsed = urlparse(source)
    path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(source)
    if parsed.scheme not in ("", "file") and len(parsed.scheme) > 1:
        raise FetchError(f"unsupported source {source!r}: use an http(s) URL, a file:// URL or a path")
    if not path.is_file():
        raise FetchError(f"file not found: {path} (check the path, or set the feed's URL)")
    if confine_to is not None and (
        path.is_symlink() or not path.resolve().is_relative_to(confine_to.resolve())
    ):
        raise FetchError(
            f"{path} is a link or lies outside {confine_to}: --from-dir reads only regular files "
            "inside the folder; copy the file there"
        )
    body = Body()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            body.add(chunk)
    return Fetched(
        path=path,
        size=body.size,
        sha256=body.sha256(),
        first_invalid_utf8=body.first_invalid_utf8(),
        first_nul=body.first_nul,
    )


@contextmanager
def hard_deadline(deadline: float) -> Iterator[None]:
    """Raise DeadlineExpired wherever the code stands when ``deadline`` (monotonic) passes.

    Socket timeouts bound each wait, not their sum: a server that sends its status line and
    headers a byte at a time, each within the read timeout, would hold the loader for ever. An
    interval timer (SIGALRM) bounds the whole exchange: connect, status line, headers, body,
    every retry and its back-off. Signals reach the main thread only: elsewhere (a loader run
    from a thread) the per-wait timeouts and the body's own deadline are what remains.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise DeadlineExpired()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(0.001, deadline - time.monotonic()))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _fetch_http(url: str, dest: Path, previous: Validators, options: HttpOptions) -> Fetched:
    deadline = time.monotonic() + options.max_seconds
    try:
        with hard_deadline(deadline):
            return _fetch_http_until(url, dest, previous, options, deadline)
    except DeadlineExpired:
        raise FetchError(
            f"the exchange with {url} took longer than {options.max_seconds:g} s (--max-seconds), "
            "headers and retries included: the server is too slow or stalling; try again later"
        ) from None


def _fetch_http_until(
    url: str, dest: Path, previous: Validators, options: HttpOptions, deadline: float
) -> Fetched:
    http = requests.Session()
    headers = {"Accept": "text/csv, text/plain;q=0.9, */*;q=0.1", "Accept-Encoding": "identity"}
    if previous.etag:
        headers["If-None-Match"] = previous.etag
    if previous.last_modified:
        headers["If-Modified-Since"] = previous.last_modified
    try:
        for attempt in range(options.retries + 1):
            try:
                fetched = _get_once(http, url, dest, headers, options, deadline)
                if fetched.result.path is not None and not fetched.verified:
                    again = _get_once(http, url, dest.with_suffix(".check"), headers, options, deadline)
                    if again.result.sha256 != fetched.result.sha256:
                        raise Retryable("the body has no length and two downloads differ")
                return fetched.result
            except Retryable as exc:
                if attempt == options.retries or time.monotonic() >= deadline:
                    raise FetchError(
                        f"{exc} after {attempt + 1} attempts: the server at {url} is failing or "
                        "unreachable; try again later or check the URL"
                    ) from None
                delay = options.backoff * 2**attempt
                if exc.retry_after is not None:
                    delay = min(max(delay, exc.retry_after), options.max_retry_after)
                time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
        raise FetchError(f"no attempt was made to fetch {url}: --retries must be >= 0")
    finally:
        http.close()


@dataclass(frozen=True)
class _Attempt:
    result: Fetched
    verified: bool  # the received length was checked against the declared one


def _get_once(
    http: requests.Session,
    url: str,
    dest: Path,
    headers: dict[str, str],
    options: HttpOptions,
    deadline: float,
) -> _Attempt:
    timeout = (options.connect_timeout, options.read_timeout)
    try:
        resp = _follow(http, url, headers, timeout)
        with resp:
            if resp.status_code == 304:
                result = Fetched(
                    path=None,
                    size=0,
                    sha256=None,
                    etag=resp.headers.get("ETag") or headers.get("If-None-Match"),
                    last_modified=resp.headers.get("Last-Modified") or headers.get("If-Modified-Since"),
                )
                return _Attempt(result, verified=True)
            if resp.status_code in RETRY_STATUSES:
                raise Retryable(f"HTTP {resp.status_code}", _retry_after(resp))
            if resp.status_code >= 400:
                hint = {
                    404: "the sheet or URL does not exist: check the link",
                    401: "the sheet is not public: publish it to the web as CSV",
                    403: "the sheet is not public: publish it to the web as CSV",
                }.get(resp.status_code, "check the URL")
                raise FetchError(f"HTTP {resp.status_code} from {url}: {hint}")
            if resp.status_code != 200 or "Content-Range" in resp.headers:
                ranged = (
                    f" with Content-Range {resp.headers['Content-Range'][:60]!r}"
                    if "Content-Range" in resp.headers
                    else ""
                )
                raise FetchError(
                    f"HTTP {resp.status_code}{ranged} from {url}: only a whole 200 answer is a sheet; this one "
                    "may be part of it, so nothing was stored or retired. Check the URL, or a proxy in between"
                )
            received = receive(resp, dest, options.max_seconds, options.max_bytes, deadline)
            result = Fetched(
                path=dest,
                size=received.body.size,
                sha256=received.body.sha256(),
                etag=resp.headers.get("ETag"),
                last_modified=resp.headers.get("Last-Modified"),
                charset=received.charset,
                first_invalid_utf8=received.body.first_invalid_utf8(),
                first_nul=received.body.first_nul,
            )
            return _Attempt(result, received.verified)
    except Truncated as exc:
        raise Retryable(str(exc)) from None
    except (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError) as exc:
        raise Retryable(f"truncated download ({_short(exc)})") from None
    except (requests.exceptions.Timeout, urllib3.exceptions.ReadTimeoutError) as exc:
        raise Retryable(f"timed out ({_short(exc)})") from None
    except requests.exceptions.ConnectionError as exc:
        raise Retryable(f"connection failed ({_short(exc)})") from None
    except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as exc:
        raise FetchError(f"invalid URL {url!r}: {_short(exc)}") from None
    except OSError as exc:  # writing the temporary file: a full disk, a read-only folder
        raise FetchError(
            f"cannot write the download to {dest.parent} ({exc.strerror or exc}): free some space in "
            "the temporary folder (TMPDIR) and run the loader again"
        ) from None


def _follow(
    http: requests.Session, url: str, headers: dict[str, str], timeout: tuple[float, float]
) -> requests.Response:
    """GET ``url``, following at most MAX_REDIRECTS redirects that urlpolicy allows."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        resp = http.get(current, headers=headers, stream=True, timeout=timeout, allow_redirects=False)
        if not resp.is_redirect:
            return resp
        target = requests.compat.urljoin(current, resp.headers.get("Location", ""))
        resp.close()
        check_redirect(current, target)
        current = target
    raise FetchError(f"more than {MAX_REDIRECTS} redirects from {url}: check the feed's URL")


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After", "")
    try:
        return float(value)
    except ValueError:
        return None


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 160 else text[:157] + "..."
