"""The refresh service, run as a person or Docker runs it: ``python -m pipeline run | watch``.

Real processes against a real sheet served over HTTP on 127.0.0.1 that changes between polls,
real dbt builds, and a loopback webhook receiver for the alerts. Each test reads the service's
JSON log lines (one per event) and checks the warehouse against figures computed here.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import (
    PRODUCTS_HEADER,
    ROOT,
    SALES_HEADER,
    STORES_HEADER,
    FeedServer,
    Service,
    WebhookReceiver,
    csv_body,
    query,
    scalar,
    service_env,
)

# every test here builds the dbt project: part of `make test`, left out of the quick subset
pytestmark = pytest.mark.slow


PRICES = {"REF001": 10.0, "REF002": 2.5}
PRODUCTS = [f"Produit {ref[-1]},{ref},{price:.2f},100" for ref, price in PRICES.items()]
STORES = ["1,Paris,10", "2,Lyon,5"]
SALES = [f"2023-06-{d:02d},{ref},{d % 4 + 1},{1 + d % 2}" for d in range(1, 9) for ref in PRICES]
# fail fast when the test's server fails on purpose
FAST = ["--retries", "0", "--read-timeout", "2", "--connect-timeout", "2"]


def revenue(lines: list[str]) -> float:
    return sum(int(line.split(",")[2]) * PRICES[line.split(",")[1]] for line in lines)


def mart_total(db: Path) -> float:
    return scalar(db, "select total_revenue from mart_revenue_total")


class Sheets:
    """The three feeds served over HTTP with ETags, as Google Sheets serves them."""

    def __init__(self, server: FeedServer):
        self.server = server
        self.version = 0
        server.serve("/produits.csv", csv_body(PRODUCTS_HEADER, PRODUCTS), etag='"p1"')
        server.serve("/magasins.csv", csv_body(STORES_HEADER, STORES), etag='"m1"')
        self.publish(SALES)

    def publish(self, lines: list[str]) -> None:
        self.version += 1
        self.server.serve("/ventes.csv", csv_body(SALES_HEADER, lines), etag=f'"v{self.version}"')

    def args(self) -> list[str]:
        return [
            f"--{name}={self.server.url(path)}"
            for name, path in (
                ("sales", "/ventes.csv"),
                ("products", "/produits.csv"),
                ("stores", "/magasins.csv"),
            )
        ]


@pytest.fixture
def watcher_cleanup():
    services: list[Service] = []
    yield services
    for service in services:
        if service.proc.poll() is None:
            service.proc.kill()
            service.proc.wait()


def test_watch_follows_the_sheet_backs_off_alerts_and_stops_on_sigterm(
    server: FeedServer, db: Path, watcher_cleanup: list
) -> None:
    sheets, hook = Sheets(server), WebhookReceiver()
    try:
        watcher = Service(
            db, "watch", *sheets.args(), *FAST, "--interval", "0.5", "--alert-after", "4",
            "--max-backoff", "2", "--alert-webhook", hook.url, "--no-report",
        )  # fmt: skip
        watcher_cleanup.append(watcher)
        first = watcher.refresh()
        assert first["outcome"] == "refreshed" and first["dbt"] == "success", first
        assert mart_total(db) == pytest.approx(revenue(SALES))

        appended = [*SALES, "2023-06-09,REF001,7,1"]  # a new line in the sheet
        sheets.publish(appended)
        event = watcher.wait_for(lambda e: e["event"] == "refresh" and e["outcome"] == "refreshed")
        assert event["rows_inserted"] == 1 and event["rows_retired"] == 0
        assert mart_total(db) == pytest.approx(revenue(appended))

        edited = [line.replace(",7,1", ",3,1") for line in appended]  # a quantity corrected
        sheets.publish(edited)
        event = watcher.wait_for(lambda e: e["event"] == "refresh" and e["outcome"] == "refreshed")
        assert (event["rows_inserted"], event["rows_retired"]) == (1, 1)
        assert mart_total(db) == pytest.approx(revenue(edited))  # counted once, with its new quantity

        # unchanged: one conditional GET per feed answered 304, and no dbt run
        builds = scalar(db, "select count(*) from pipeline_runs where dbt_result = 'success'")
        event = watcher.refresh()
        assert (event["outcome"], event["dbt"]) == ("unchanged", "skipped")
        assert server.requests[-1][1].get("If-None-Match") == f'"v{sheets.version}"'
        assert scalar(db, "select count(*) from pipeline_runs where dbt_result = 'success'") == builds

        # the sheet goes down: failures back off (doubling, capped), one alert, then stale data
        server.routes["/ventes.csv"].faults = ["500"] * 10_000
        delays = [watcher.wait_for(lambda e: e["event"] == "backoff")["next_attempt_in"] for _ in range(3)]
        assert delays == [1.0, 2.0, 2.0]
        watcher.wait_for(lambda e: e["event"] == "alert" and e["alert"] == "data_stale", timeout=30)
        assert hook.events() == ["refresh_failed", "data_stale"]  # one alert per change of state
        assert "500" in hook.messages[0]["error"] and hook.messages[0]["text"]
        assert scalar(db, "select outcome from pipeline_runs order by run_id desc limit 1") == "failed"
        assert mart_total(db) == pytest.approx(revenue(edited))  # the marts keep the last good data

        server.routes["/ventes.csv"].faults = []  # back up
        watcher.wait_for(lambda e: e["event"] == "alert" and e["alert"] == "refresh_recovered", timeout=30)
        assert hook.events() == ["refresh_failed", "data_stale", "refresh_recovered"]

        started = time.monotonic()
        assert watcher.stop() == 0
        assert time.monotonic() - started < 5
        assert watcher.wait_for(lambda e: e["event"] == "watch_stopped", timeout=5)["signal"] == "SIGTERM"
    finally:
        hook.close()


def test_sigterm_during_a_dbt_build_rolls_back_and_exits_0_quickly(
    server: FeedServer, db: Path, watcher_cleanup: list
) -> None:
    sheets = Sheets(server)
    watcher = Service(db, "watch", *sheets.args(), *FAST, "--interval", "60", "--no-report")
    watcher_cleanup.append(watcher)
    watcher.wait_for(lambda e: e["event"] == "dbt_build")
    time.sleep(1.0)  # inside dbt (importing, parsing or building)
    started = time.monotonic()
    assert watcher.stop() == 0
    assert time.monotonic() - started < 5
    kinds = [e["event"] for e in watcher.events] + [e["event"] for e in watcher.drain()]
    assert "refresh_interrupted" in kinds and kinds[-1] == "watch_stopped" and "NOT JSON" not in kinds, kinds
    assert query(db, "select outcome, finished_at is not null from pipeline_runs") == [("interrupted", 1)]

    # the next refresh builds what the interrupted one did not, and the figures are right
    proc = run_pipeline(db, "run", *sheets.args(), "--no-report")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert mart_total(db) == pytest.approx(revenue(SALES))


def test_a_full_disk_is_a_failed_refresh_alerted_and_the_service_lives_on(
    server: FeedServer, db: Path, watcher_cleanup: list
) -> None:
    sheets, hook = Sheets(server), WebhookReceiver()
    try:
        assert run_pipeline(db, "run", *sheets.args(), "--no-report").returncode == 0
        total = mart_total(db)
        sheets.publish(SALES + [f"2023-07-{n % 28 + 1:02d},REF001,{n % 9 + 1},1" for n in range(30_000)])
        body = len(server.routes["/ventes.csv"].body)  # the download fits, 30,000 sales do not
        limit = max(db.stat().st_size, body) + (128 << 10)

        def small_disk() -> None:  # every file this service writes stops at `limit` bytes: a full disk
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        watcher = Service(
            db, "watch", *sheets.args(), *FAST, "--interval", "0.2", "--max-backoff", "0.5", "--alert-after", "60",
            "--alert-webhook", hook.url, "--no-report", preexec_fn=small_disk,
        )  # fmt: skip
        watcher_cleanup.append(watcher)
        for _ in range(2):  # fails, backs off, fails again: alive, and never a false success
            event = watcher.refresh()
            assert event["outcome"] == "failed" and "full" in event["error"], event
        assert hook.events() == ["refresh_failed"]
        assert mart_total(db) == pytest.approx(total)  # the last good data, untouched
        assert scalar(db, "select count(*) from raw_sales") == len(SALES)
        assert watcher.stop() == 0
    finally:
        hook.close()


def test_two_refreshes_never_run_at_once(server: FeedServer, db: Path, watcher_cleanup: list) -> None:
    sheets = Sheets(server)
    first = Service(db, "watch", *sheets.args(), *FAST, "--interval", "60", "--no-report")
    watcher_cleanup.append(first)
    first.wait_for(lambda e: e["event"] == "watch_started")
    for command in ("watch", "run"):
        second = run_pipeline(db, command, *sheets.args(), "--no-report", timeout=60)
        assert second.returncode == 1
        assert "already running" in second.stderr and f"pid {first.proc.pid}" in second.stderr
    assert first.stop() == 0
    after = run_pipeline(db, "run", *sheets.args(), "--no-report")  # the lock went with its holder
    assert after.returncode == 0, after.stderr


def run_pipeline(
    db: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args, "--db", str(db)],
        cwd=ROOT,
        env=service_env(db, env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_run_builds_only_when_something_changed_and_retries_a_failed_build(
    server: FeedServer, db: Path, tmp_path: Path
) -> None:
    sheets = Sheets(server)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("dbt cannot write its target here")
    failed = run_pipeline(db, "run", *sheets.args(), env={"DBT_TARGET_PATH": str(not_a_folder)})
    assert failed.returncode == 1
    row = query(db, "select outcome, dbt_result, error from pipeline_runs")[0]
    assert row[:2] == ("failed", "failed") and "dbt" in row[2]

    # the feeds did not change, but the last build failed: this run builds
    report = tmp_path / "report"
    ok = run_pipeline(db, "run", *sheets.args(), "--report-dir", str(report))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert query(db, "select outcome, dbt_result, report_written from pipeline_runs where run_id = 2") == [
        ("refreshed", "success", 1)
    ]
    assert mart_total(db) == pytest.approx(revenue(SALES))
    assert "Fiche synthèse des ventes" in (report / "fiche_synthese.md").read_text()

    again = run_pipeline(db, "run", *sheets.args())
    assert again.returncode == 0
    assert query(db, "select outcome, dbt_result from pipeline_runs where run_id = 3") == [
        ("unchanged", "skipped")
    ]

    # a load done by someone else (docker compose run loader) is built by the next refresh
    sheets.publish([*SALES, "2023-06-20,REF002,4,2"])
    subprocess.run([sys.executable, "-m", "loader", "--db", str(db), *sheets.args()], cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    built = run_pipeline(db, "run", *sheets.args(), "--no-report")
    assert built.returncode == 0
    assert query(db, "select outcome, dbt_result from pipeline_runs where run_id = 4") == [
        ("refreshed", "success")
    ]
    assert mart_total(db) == pytest.approx(revenue(SALES) + 4 * 2.5)


def test_a_failed_feed_fails_the_refresh_but_what_loaded_is_built(server: FeedServer, db: Path) -> None:
    sheets = Sheets(server)
    server.routes["/magasins.csv"].faults = ["500"]
    proc = run_pipeline(db, "run", *sheets.args(), *FAST, "--no-report")
    assert proc.returncode == 1
    outcome, failed, dbt_result, error = query(
        db, "select outcome, feeds_failed, dbt_result, error from pipeline_runs"
    )[0]
    assert (outcome, failed, dbt_result) == ("failed", "stores", "success")
    assert error.startswith("stores: ") and "500" in error


def test_health_follows_the_last_successful_refresh(server: FeedServer, db: Path) -> None:
    sheets = Sheets(server)
    never = run_pipeline(db, "health")
    assert never.returncode == 1 and "no warehouse" in never.stderr
    assert run_pipeline(db, "run", *sheets.args(), "--no-report").returncode == 0
    healthy = run_pipeline(db, "health", "--max-age", "60")
    assert healthy.returncode == 0 and healthy.stdout.startswith("healthy")
    time.sleep(1.2)
    stale = run_pipeline(db, "health", "--max-age", "1")
    assert stale.returncode == 1 and "more than 1 s" in stale.stderr
