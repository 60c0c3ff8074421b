"""Issue 19, class 4: every environment variable is validated like its flag.

A service is configured by its environment: one typo there must stop it at start, naming the
variable (exit 2, as argparse does for a bad flag), never silently change what is counted. A
LOADER_* or REFRESH_* variable no command reads is reported. Each case runs the real command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from loader.envvars import KNOWN
from pipeline.dbt_runner import ROOT

CLIENT = ROOT / "tests" / "fixtures" / "client_data"


@dataclass(frozen=True)
class Case:
    name: str
    variable: str
    value: str
    command: tuple[str, ...]  # module, then arguments; {db} and {feeds} are filled in
    says: str  # what the one-line error says besides the variable's name


LOADER = ("loader", "--db", "{db}", "--from-dir", "{feeds}")
RUN = ("pipeline", "run", "--db", "{db}", "--from-dir", "{feeds}", "--no-report")
WATCH = ("pipeline", "watch", "--db", "{db}", "--from-dir", "{feeds}", "--no-report")
HEALTH = ("pipeline", "health", "--db", "{db}")

CASES = [
    Case("on-missing-typo-loader", "LOADER_ON_MISSING", "retrie", LOADER, "not one of retire, keep"),
    Case("on-missing-typo-pipeline", "LOADER_ON_MISSING", "KEEP", RUN, "not one of retire, keep"),
    Case("interval-zero", "REFRESH_INTERVAL", "0", WATCH, "positive"),
    Case("interval-over-a-day", "REFRESH_INTERVAL", "100000", WATCH, "outside 0.1 .. 86400"),
    Case("interval-not-a-number", "REFRESH_INTERVAL", "60s", WATCH, "60s"),
    Case("interval-infinite", "REFRESH_INTERVAL", "inf", HEALTH, "positive, finite"),
    Case("alert-after-negative", "ALERT_AFTER", "-1", HEALTH, ">= 0"),
    Case("alert-after-text", "ALERT_AFTER", "3 intervals", WATCH, "3 intervals"),
    Case("log-format-unknown", "LOG_FORMAT", "xml", RUN, "not one of text, json"),
    Case("log-format-case", "LOG_FORMAT", "JSON", WATCH, "not one of text, json"),
    Case("webhook-not-http", "ALERT_WEBHOOK_URL", "ftp://alerts.example", WATCH, "not an http(s) URL"),
    Case("webhook-no-host", "ALERT_WEBHOOK_URL", "https://", WATCH, "with a host"),
    Case("webhook-bare-word", "ALERT_WEBHOOK_URL", "alerts", RUN, "not an http(s) URL"),
]


def command(case: Case, tmp_path: Path) -> list[str]:
    module, *args = (a.format(db=tmp_path / "w.db", feeds=CLIENT) for a in case.command)
    return [sys.executable, "-m", module, *args]


def clean_environment() -> dict[str, str]:
    """This process's environment without any variable a command reads."""
    watched = KNOWN | {"ALERT_AFTER", "ALERT_WEBHOOK_URL", "LOG_FORMAT", "WAREHOUSE_DB"}
    return {
        k: v for k, v in os.environ.items() if k not in watched and not k.startswith(("LOADER_", "REFRESH_"))
    }


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_bad_variable_stops_the_command_naming_it(case: Case, tmp_path: Path) -> None:
    done = subprocess.run(
        command(case, tmp_path),
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**clean_environment(), case.variable: case.value},
    )  # fmt: skip
    assert done.returncode == 2, (done.returncode, done.stdout[-500:], done.stderr[-500:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: environment variable {case.variable}: "), lines
    assert case.says in lines[0], lines[0]
    assert not (tmp_path / "w.db").exists()  # stopped before touching anything


def test_the_same_values_as_flags_are_refused_the_same_way(tmp_path: Path) -> None:
    """Same parser, same bounds: what the variable refuses, the flag refuses."""
    for flag, value in (
        ("--interval", "100000"),
        ("--alert-webhook", "ftp://alerts.example"),
        ("--on-missing", "retrie"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "pipeline", "watch", "--db", str(tmp_path / "w.db"), flag, value],
            cwd=ROOT, capture_output=True, text=True, timeout=60, env=clean_environment(),
        )  # fmt: skip
        assert done.returncode == 2 and flag in done.stderr, (flag, done.stderr[-300:])


@pytest.mark.parametrize("typo", ["LOADER_SALES_ULR", "LOADER_ONMISSING", "REFRESH_INTERVALS"])
def test_an_unknown_variable_is_reported_at_start(typo: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loader", "--db", str(tmp_path / "w.db"), "--from-dir", str(CLIENT)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**clean_environment(), typo: "x"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-500:]
    assert f"warning: environment variable {typo} is not read by ventes-pme" in done.stderr


@pytest.mark.slow
def test_valid_values_are_taken(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--db", str(tmp_path / "w.db"), "--no-report"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**clean_environment(), "LOADER_FROM_DIR": str(CLIENT), "LOG_FORMAT": "json", "LOADER_ON_MISSING": "keep",
             "REFRESH_INTERVAL": "0.5", "ALERT_AFTER": "30", "ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hook"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-800:]
    assert done.stdout.lstrip().startswith("{") and "warning" not in done.stderr
