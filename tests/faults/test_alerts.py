"""Issue 19, class 3: alerts can never block the loop.

Hostile webhook receivers on loopback (raw sockets: they misbehave below HTTP), each against the
real Alerts, then against the real refresh service: a slow, silent, endless or redirecting
receiver is one log line within the deadline; SIGTERM, SIGINT and SIGHUP stop the service during
an alert as during a wait.
"""

from __future__ import annotations

import io
import json
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import Service, WebhookReceiver, query

from pipeline.alerts import Alerts
from pipeline.events import EventLog


class HostileReceiver:
    """A TCP server on 127.0.0.1 that answers each connection with ``behaviour(conn)``."""

    def __init__(self, behaviour: Callable[[socket.socket], None]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.connections = 0
        self.closed = threading.Event()
        self.behaviour = behaviour
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)  # the request (small: one JSON message)
            self.behaviour(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.closed.set()
        self.sock.close()


def drip_headers(conn: socket.socket) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Slow: " + b"x" * 10_000:
        conn.sendall(bytes([byte]))
        time.sleep(0.2)


def never_answer(conn: socket.socket) -> None:
    time.sleep(60)


def endless_answer(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
    for _ in range(100_000):  # 6 GB if it were all read
        conn.sendall(b"y" * 65536)


def server_error(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")


@dataclass(frozen=True)
class Case:
    name: str
    behaviour: Callable[[socket.socket], None] | None  # None: a redirect to a real receiver
    says: str  # the webhook field of the alert's log line starts with this


CASES = [
    Case("drips-its-headers", drip_headers, "not delivered: no answer within 1 s"),
    Case("never-answers", never_answer, "not delivered: no answer within 1 s"),
    Case("endless-answer", endless_answer, "delivered"),
    Case("server-error", server_error, "not delivered: HTTP Error 500"),
    Case("redirects", None, "not delivered: HTTP Error 302"),
]


def redirect_to(target: str) -> Callable[[socket.socket], None]:
    def behaviour(conn: socket.socket) -> None:
        conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n".encode())

    return behaviour


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_hostile_receiver_costs_one_log_line_within_the_deadline(case: Case) -> None:
    real = WebhookReceiver()
    hostile = HostileReceiver(case.behaviour or redirect_to(real.url))
    out = io.StringIO()
    try:
        alerts = Alerts(EventLog("json", out), hostile.url, warehouse="w.db", deadline=1.0)
        started = time.monotonic()
        alerts.refresh_ended(False, error="boom")
        took = time.monotonic() - started
    finally:
        hostile.close()
        real.close()
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["event"] == "alert" and line["alert"] == "refresh_failed"
    assert line["webhook"].startswith(case.says), line
    assert took < 2.5, took  # the deadline (1 s) and a margin, whatever the receiver does
    assert real.messages == []  # a redirect is not followed


def test_a_stop_abandons_an_alert_under_way() -> None:
    hostile = HostileReceiver(never_answer)
    out = io.StringIO()
    try:
        alerts = Alerts(EventLog("json", out), hostile.url, warehouse="w.db", deadline=30.0)
        threading.Timer(0.3, alerts.abandon.set).start()
        started = time.monotonic()
        alerts.notify("backup_failed", error="disk full")
        took = time.monotonic() - started
    finally:
        hostile.close()
    assert took < 2, took
    assert json.loads(out.getvalue())["webhook"] == "not delivered: the service is stopping"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_the_service_stops_during_a_stalled_alert(signum: signal.Signals, tmp_path: Path) -> None:
    """A refresh fails (its sheet is missing), the failure alert goes to a receiver that never
    answers: the signal ends the service, exit 0, within 5 s, no run left `running`."""
    hostile = HostileReceiver(never_answer)
    db = tmp_path / "w.db"
    service = Service(
        db, "watch", "--from-dir", str(tmp_path / "no-such-folder"), "--interval", "0.2", "--no-report",
        "--alert-webhook", hostile.url, "--retries", "0",
    )  # fmt: skip
    try:
        service.wait_for(lambda e: e["event"] == "refresh" and e["outcome"] == "failed")
        deadline = time.monotonic() + 30
        while hostile.connections == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hostile.connections >= 1, "the failure alert never reached the receiver"
        sent = time.monotonic()
        service.proc.send_signal(signum)
        code = service.proc.wait(timeout=10)
        took = time.monotonic() - sent
    finally:
        hostile.close()
        if service.proc.poll() is None:
            service.proc.kill()
    assert code == 0 and took < 5, (code, took, service.stderr())
    assert query(db, "select count(*) from pipeline_runs where outcome = 'running'") == [(0,)]


@pytest.mark.slow
def test_sighup_ends_watch_like_sigterm(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    service = Service(db, "watch", "--from-dir", str(tmp_path / "none"), "--interval", "60", "--no-report")
    try:
        service.wait_for(lambda e: e["event"] == "refresh")
        service.proc.send_signal(signal.SIGHUP)
        assert service.proc.wait(timeout=10) == 0
        stopped = service.wait_for(lambda e: e["event"] == "watch_stopped", timeout=5)
    finally:
        if service.proc.poll() is None:
            service.proc.kill()
    assert stopped["signal"] == "SIGHUP"
