"""Issue 19, class 8: a refresh is whole or retried.

A refresh is recorded `refreshed` only when its synthesis sheet was written; a sheet that could
not be written is written at the next poll although the feeds did not change; a chart is never
left half-written or empty.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import query, service_env

from pipeline.dbt_runner import ROOT

# every test here builds the dbt project: part of `make test`, left out of the quick subset
pytestmark = pytest.mark.slow


CLIENT = ROOT / "tests" / "fixtures" / "client_data"


def pipeline_run(db: Path, report: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--db", str(db), "--from-dir", str(CLIENT),
         "--report-dir", str(report), "--log-format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=service_env(db, None),
    )  # fmt: skip
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return next(e for e in events if e["event"] == "refresh")


def test_a_sheet_that_could_not_be_written_is_written_at_the_next_poll(tmp_path: Path) -> None:
    db, report = tmp_path / "w.db", tmp_path / "report"
    report.mkdir()
    (report / "fiche_synthese").write_text(
        "a file where the charts' folder goes"
    )  # the sheet cannot be written
    first = pipeline_run(db, report)
    assert first["outcome"] == "failed" and "synthesis sheet" in first["error"], first
    assert not (report / "fiche_synthese.md").exists()
    (report / "fiche_synthese").unlink()  # the fault is gone; the feeds have not changed
    second = pipeline_run(db, report)
    assert second["outcome"] == "refreshed" and second["dbt"] == "skipped", second  # no build: the sheet only
    assert (report / "fiche_synthese.md").stat().st_size > 0
    assert query(db, "select outcome, report_written from pipeline_runs order by run_id") == [
        ("failed", 0),
        ("refreshed", 1),
    ]
    third = pipeline_run(db, report)  # written: nothing more to do
    assert third["outcome"] == "unchanged", third


def test_a_deleted_sheet_is_written_again(tmp_path: Path) -> None:
    db, report = tmp_path / "w.db", tmp_path / "report"
    assert pipeline_run(db, report)["outcome"] == "refreshed"
    (report / "fiche_synthese.md").unlink()
    assert pipeline_run(db, report)["outcome"] == "refreshed"
    assert (report / "fiche_synthese.md").exists()


def test_a_chart_cut_by_a_full_disk_leaves_the_previous_image_whole(tmp_path: Path) -> None:
    chart = tmp_path / "ca_par_produit.png"
    chart.write_bytes(b"\x89PNG previous image")
    script = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "import matplotlib\n"
        "matplotlib.use('Agg')\n"
        "import matplotlib.pyplot as plt\n"
        "from report.synthese import save_chart\n"
        "fig, ax = plt.subplots()\n"
        "ax.plot(range(1000))\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # the disk is full after 4 KiB\n"
        "save_chart(fig, Path(sys.argv[1]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(chart)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode != 0 and "File too large" in done.stderr, done.stderr[-500:]
    assert chart.read_bytes() == b"\x89PNG previous image"  # never a 0-byte or half image
    assert [p.name for p in tmp_path.iterdir()] == [chart.name]  # no temporary file left
