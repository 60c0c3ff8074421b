"""What the tests share: a real HTTP server on 127.0.0.1 that serves CSV bodies and fails on
demand, query helpers on a real SQLite file, and dbt run on a test warehouse as a user would."""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from loader import FeedResult, LoadOptions, connect, feeds, load_feeds
from loader.feeds import FEEDS
from loader.fetch import HttpOptions
from pipeline.dbt_runner import WarmDbt, dbt_env, run_dbt

ROOT = Path(__file__).resolve().parents[1]
CLIENT_DATA = ROOT / "tests" / "fixtures" / "client_data"  # the client's feeds, committed as published

SALES_HEADER = feeds.SALES.header_line
PRODUCTS_HEADER = feeds.PRODUCTS.header_line
STORES_HEADER = feeds.STORES.header_line

# fast HTTP options for tests whose server fails on purpose
FAST = HttpOptions(connect_timeout=2.0, read_timeout=0.5, retries=2, backoff=0.01)

# three sales lines in the client's format
SALES = [
    "2023-05-27,REF001,5,1",
    "2023-05-28,REF002,3,2",
    "2023-05-29,REF003,2,1",
]


def csv_body(
    header: str, lines: list[str], newline: str = "\r\n", bom: bool = False, final: bool = False
) -> bytes:
    """A feed as the client's sheets publish it: CRLF and no final newline by default."""
    text = newline.join([header, *lines]) + (newline if final else "")
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/csv; charset=utf-8"
    etag: str | None = None
    # one entry consumed per request: ok | 500 | 503 | 429 | 404 | reset | slow | truncate | html
    faults: list[str] = field(default_factory=list)


class FeedServer:
    """Serves ``routes``; records each request's path and headers for the assertions."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.hits: dict[str, int] = defaultdict(int)
        self.slow_seconds = 2.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                path = self.path.split("?")[0]
                server.requests.append((path, dict(self.headers)))
                server.hits[path] += 1
                route = server.routes.get(path)
                if route is None:
                    return self._send(404, b"not found", "text/plain")
                fault = route.faults.pop(0) if route.faults else "ok"
                if fault in ("500", "503", "429", "404"):
                    extra = {"Retry-After": "0"} if fault == "429" else {}
                    return self._send(int(fault), b"error", "text/plain", extra)
                if fault == "reset":
                    self.connection.shutdown(2)  # close without an answer: connection reset/aborted
                    self.close_connection = True
                    return None
                if fault == "html":
                    page = b"<!DOCTYPE html><html><body>Sign in - Google Accounts</body></html>"
                    return self._send(200, page, "text/html; charset=utf-8")
                if route.etag and self.headers.get("If-None-Match") == route.etag:
                    return self._send(304, b"", route.content_type, {"ETag": route.etag})
                extra = {"ETag": route.etag} if route.etag else {}
                if fault == "truncate":
                    self.send_response(200)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    self.wfile.write(route.body[: len(route.body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    self.close_connection = True
                    return None
                if fault in HOSTILE:
                    return HOSTILE[fault](self, route)
                if fault == "slow":
                    self.send_response(200)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    self.wfile.write(route.body[:10])
                    self.wfile.flush()
                    time.sleep(server.slow_seconds)
                    self.close_connection = True
                    return None
                return self._send(200, route.body, route.content_type, extra)

            def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # a short poll: shutdown() waits for it, and every test's server is closed (0.5 s by default)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def serve(self, path: str, body: bytes, **kwargs: object) -> str:
        self.routes[path] = Route(body=body, **kwargs)  # type: ignore[arg-type]
        return self.url(path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def query(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def scalar(db: Path, sql: str, params: tuple = ()) -> object:
    return query(db, sql, params)[0][0]


# --- dbt on a real warehouse ------------------------------------------------------------------


def dbt_target(db: Path) -> Path:
    """Each test warehouse gets its own dbt target folder (manifest, catalog, run results)."""
    return db.parent / f"dbt-{db.stem}" / "target"


def dbt(db: Path, *args: str) -> None:
    """dbt ``args`` on ``db``; fail loudly. build, run and test go through the session's warm
    runner (the same commands, without paying dbt's start-up each time); anything else through
    the CLI, as a user would type it from the repository root."""
    if args[0] in ("build", "run", "test"):
        warm(db, *args)
        return
    proc = run_dbt(db, dbt_target(db).parent, *args)
    assert proc.returncode == 0, f"dbt {' '.join(args)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"


def failures(result) -> list[str]:  # noqa: ANN001 (a dbtRunnerResult)
    """The nodes of a dbt invocation that did not pass, as "name: status"."""
    if result.result is None or not hasattr(result.result, "results"):
        return []
    return [
        f"{r.node.name}: {r.status}"
        for r in result.result.results
        if str(r.status) not in ("success", "pass", "warn", "no-op")
    ]


# columns that record when a row was built, not what it says: they differ between builds by design
BUILD_METADATA = {"built_at", "horizon_run_id"}
# one row per dbt run by design, so two histories of builds never match
HISTORY_MODELS = {"mart_results_history"}


MODEL_PREFIXES = ("stg_", "int_", "dim_", "fct_", "mart_")


def model_names(db: Path) -> list[str]:
    """Every model dbt made in the warehouse (tables and views, by the project's prefixes)."""
    return sorted(
        name
        for (name,) in query(db, "select name from sqlite_master where type in ('table', 'view')")
        if name.startswith(MODEL_PREFIXES)
    )


def model_rows(db: Path, model: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        columns = [r[1] for r in con.execute(f'pragma table_info("{model}")') if r[1] not in BUILD_METADATA]
        listed = ", ".join(f'"{c}"' for c in columns)
        rows = con.execute(f'select {listed} from "{model}" order by {listed}').fetchall()
    finally:
        con.close()
    return [tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in rows]


@contextlib.contextmanager
def release_checkout(commit: str, folder: Path) -> Iterator[Path]:
    """The project as it was at ``commit``, checked out in ``folder`` (a git worktree) for the
    block: a warehouse written by an earlier release's own code. Fails the test if git cannot."""
    made = subprocess.run(
        ["git", "worktree", "add", "--detach", str(folder), commit], cwd=ROOT, capture_output=True, text=True
    )
    if made.returncode != 0:
        pytest.fail(f"cannot check out the release {commit}: {made.stderr}")
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, capture_output=True)


# one per test process (pytest-xdist: per worker): the parsed project is read-only once parsed;
# each call gets the variables of its own warehouse (its own dbt target folder)
WARM = WarmDbt(env=lambda db: dbt_env(db, dbt_target(db).parent))


def warm(db: Path, *args: str, ok: bool = True):  # -> dbtRunnerResult
    """dbt ``args`` on ``db`` through the session's warm runner; fails the test unless it
    succeeded (``ok=False``: the caller looks at the result)."""
    result = WARM.invoke(*args, "--log-level", "none", db=db)
    if ok:
        assert result.success, f"dbt {' '.join(args)} failed: {failures(result) or result.exception}"
    return result


def load(db: Path, feeds: Path, options: LoadOptions | None = None) -> None:
    """Load the three feeds of a folder with the loader library."""
    con = connect(db)
    try:
        results = load_feeds(con, {spec.name: str(feeds / spec.file_name) for spec in FEEDS}, options)
    finally:
        con.close()
    assert all(r.ok for r in results), results


# --- hostile answers, for the fault suite (tests/faults) ------------------------------------


def _raw(
    handler: BaseHTTPRequestHandler, head: dict[str, str], body: bytes, close: bool = True, status: int = 200
) -> None:
    handler.send_response(status)
    for name, value in head.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()
    if close:
        handler.connection.shutdown(2)
        handler.close_connection = True


def _redirect(handler: BaseHTTPRequestHandler, location: str) -> None:
    handler.send_response(302)
    handler.send_header("Location", location)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def _gzip(body: bytes) -> bytes:
    import gzip

    return gzip.compress(body)


def _drip_head(handler: BaseHTTPRequestHandler, route: Route) -> None:
    """The status line and headers a byte every 0.1 s (each byte well within any read timeout:
    13 s in all), then the whole body: only a deadline on the whole exchange cuts it."""
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: {route.content_type}\r\nContent-Length: {len(route.body)}\r\n"
        f"X-Padding: {'x' * 60}\r\n\r\n"
    ).encode()
    try:
        for byte in head:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.1)
        handler.wfile.write(route.body)
    except OSError:
        pass
    handler.close_connection = True


HOSTILE = {
    # the status line and headers a byte at a time
    "drip-head": _drip_head,
    # the route's body served as it is, declared gzip (the body is already compressed)
    "gzip-as-is": lambda h, r: _raw(
        h,
        {"Content-Type": r.content_type, "Content-Encoding": "gzip", "Content-Length": str(len(r.body))},
        r.body,
    ),
    # the connection is accepted, nothing is ever said (8 s, then the server hangs up)
    "silent": lambda h, r: time.sleep(8),
    # no Content-Length, the connection closes in the middle of a line
    "nolength-cut": lambda h, r: _raw(h, {"Content-Type": r.content_type}, r.body[:-1]),
    # no Content-Length, the whole body: verifiable only by fetching it again
    "nolength": lambda h, r: _raw(h, {"Content-Type": r.content_type}, r.body),
    # gzip whose stream stops before its end marker, with a Content-Length that matches what is sent
    "gzip-cut": lambda h, r: _raw(
        h,
        {
            "Content-Type": r.content_type,
            "Content-Encoding": "gzip",
            "Content-Length": str(len(_gzip(r.body)) - 12),
        },
        _gzip(r.body)[:-12],
        close=False,
    ),
    "gzip": lambda h, r: _raw(
        h,
        {
            "Content-Type": r.content_type,
            "Content-Encoding": "gzip",
            "Content-Length": str(len(_gzip(r.body))),
        },
        _gzip(r.body),
        close=False,
    ),
    # claims gzip, is plain text
    "fake-gzip": lambda h, r: _raw(
        h,
        {"Content-Type": r.content_type, "Content-Encoding": "gzip", "Content-Length": str(len(r.body))},
        r.body,
        close=False,
    ),
    # answers that are not a whole 200 of the resource: part of it, or a range nobody asked for
    "partial-206": lambda h, r: _raw(
        h,
        {
            "Content-Type": r.content_type,
            "Content-Length": str(len(r.body) // 2),
            "Content-Range": f"bytes 0-{len(r.body) // 2 - 1}/{len(r.body)}",
        },
        r.body[: len(r.body) // 2],
        status=206,
    ),  # fmt: skip
    "whole-206": lambda h, r: _raw(
        h,
        {
            "Content-Type": r.content_type,
            "Content-Length": str(len(r.body)),
            "Content-Range": f"bytes 0-{len(r.body) - 1}/{len(r.body)}",
        },
        r.body,
        status=206,
    ),  # fmt: skip
    "range-on-200": lambda h, r: _raw(
        h,
        {
            "Content-Type": r.content_type,
            "Content-Length": str(len(r.body) // 2),
            "Content-Range": f"bytes 0-{len(r.body) // 2 - 1}/{len(r.body)}",
        },
        r.body[: len(r.body) // 2],
    ),  # fmt: skip
    "status-203": lambda h, r: _raw(
        h, {"Content-Type": r.content_type, "Content-Length": str(len(r.body))}, r.body, status=203
    ),
    "redirect-file": lambda h, r: _redirect(h, "file:///etc/passwd"),
    "redirect-loop": lambda h, r: _redirect(h, h.path),
    # one byte every 50 ms, forever (bounded by the test's --max-seconds)
    "drip": lambda h, r: _drip(h, r),
}


def _drip(handler: BaseHTTPRequestHandler, route: Route) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", route.content_type)
    handler.send_header("Content-Length", str(len(route.body) * 100))
    handler.end_headers()
    try:
        for _ in range(200):  # 10 s at most, then the handler gives up
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.05)
    except OSError:
        pass
    handler.close_connection = True


# --- the loader, as a library and as a process --------------------------------------------


def run(db: Path, options: LoadOptions | None = None, **sources: str) -> dict[str, FeedResult]:
    con = connect(db)
    try:
        results = load_feeds(con, sources, options or LoadOptions(http=FAST))
    finally:
        con.close()
    return {r.feed: r for r in results}


def sales_ids(db: Path) -> list[str]:
    return [r[0] for r in query(db, "select sale_id from raw_sales order by line_number")]


def snapshot(db: Path) -> dict[str, list[tuple]]:
    """Every data table's content, to prove a failed load changed nothing."""
    return {
        t: query(db, f"select * from {t}")
        for t in ("raw_sales", "raw_products", "raw_stores", "loader_rejects")
    }


def spawn_loader(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "loader", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def wait_gone(pid: int, timeout: float) -> bool:
    """True once the process has exited (gone, or a zombie nobody has reaped yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                if handle.read().split(")")[-1].split()[0] in ("Z", "X"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def children_of(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(child) for child in handle.read().split()]


def run_module(module: str, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return proc


class WebhookReceiver:
    """A loopback endpoint that records the JSON bodies POSTed to it (the alerts' webhook)."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.messages.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def events(self) -> list[str]:
        return [m["event"] for m in self.messages]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- the pipeline's services, as child processes -----------------------------------------


def service_env(db: Path, extra: dict[str, str] | None) -> dict[str, str]:
    """The environment of a pipeline process on ``db``: dbt's files in a folder of the test's."""
    return {**dbt_env(db, db.parent / "dbt"), **(extra or {})}


class Service:
    """``python -m pipeline <command>`` in a child process; its JSON events gathered as they come."""

    def __init__(self, db: Path, *args: str, env: dict[str, str] | None = None, preexec_fn=None):
        self.events: list[dict] = []
        self._lines: queue.Queue[dict] = queue.Queue()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline", *args, "--db", str(db), "--log-format", "json"],
            cwd=ROOT,
            env=service_env(db, env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=preexec_fn,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # every line one JSON event: nothing else may reach stdout
            try:
                self._lines.put(json.loads(line))
            except ValueError:
                self._lines.put({"event": "NOT JSON", "line": line})

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self._lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self._lines.empty():
                    break
                continue
            self.events.append(event)
            if predicate(event):
                return event
        raise AssertionError(
            f"no such event within {timeout} s; got {self.events[-10:]}; stderr: {self.stderr()}"
        )

    def drain(self) -> list[dict]:
        """The events read but not waited for yet."""
        events = []
        while not self._lines.empty():
            events.append(self._lines.get())
        return events

    def refresh(self, timeout: float = 120) -> dict:
        return self.wait_for(lambda e: e["event"] == "refresh", timeout)

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)
