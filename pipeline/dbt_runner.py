"""Run the dbt CLI on a given warehouse file, from the repository root, as a user would.

Shared by `docgen.publish`, the benchmarks, the tests and the refresh service, so that all of them call dbt the
same way: the profile at the root, the project in dbt_project/, and dbt's own files (target,
logs, attached schemas) in a work folder of the caller's, away from the developer's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DBT = Path(sys.executable).parent / "dbt"


def dbt_env(db: Path, work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "WAREHOUSE_DB": str(db),
        "DBT_SQLITE_SCHEMA_DIR": str(work / "schemas"),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def run_dbt(db: Path, work: Path, *args: str, capture: bool = True) -> subprocess.CompletedProcess:
    """``dbt <args>`` on ``db``; the caller checks the return code."""
    command = [str(DBT), "--no-use-colors", *args, "--project-dir", "dbt_project", "--profiles-dir", "."]
    return subprocess.run(command, cwd=ROOT, env=dbt_env(db, work), capture_output=capture, text=True)
