"""Run the dbt CLI on a given warehouse file, from the repository root, as a user would.

Shared by `docgen.publish`, the benchmarks, the tests and the refresh service, so that all of them call dbt the
same way: the project and profile at the root (sources in dbt_project/), and dbt's own files (target,
logs, attached schemas) in a work folder of the caller's, away from the developer's.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
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
        # the other engines' files (--target duckdb | spark), in the same work folder
        "DUCKDB_PATH": str(work / "warehouse.duckdb"),
        "SPARK_WORK_DIR": str(work / "spark"),
    }


def run_dbt(db: Path, work: Path, *args: str, capture: bool = True) -> subprocess.CompletedProcess:
    """``dbt <args>`` on ``db``; the caller checks the return code."""
    command = [str(DBT), "--no-use-colors", *args, "--project-dir", str(ROOT), "--profiles-dir", str(ROOT)]
    return subprocess.run(command, cwd=ROOT, env=dbt_env(db, work), capture_output=capture, text=True)


# Nothing on stdout but the service's own event lines (dbt would print there even with --quiet,
# e.g. when cancelled); dbt's debug log file and JSON artefacts cost a second per build and
# nobody reads them in the service (failures go to pipeline_runs and the log line): warnings and
# errors stay in dbt.log.
BUILD_FLAGS = ("--log-level", "none", "--log-level-file", "warn", "--no-write-json")


@dataclass
class BuildResult:
    success: bool
    summary: str  # e.g. "24 models, 131 tests ok" or what failed


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` in os.environ for the block, the previous environment back after it."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:  # only these names, so another thread never sees an emptied environment
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class WarmDbt:
    """dbt's programmatic runner with the project parsed once.

    The refresh service is a long-lived process: importing dbt and parsing the project cost
    seconds, paid at the first build only; later builds reuse the parsed manifest. The
    project files do not change under a running service (they are in the image), so the
    manifest cannot go stale. The tests share one for all their warehouses the same way.

    dbt reads the warehouse path from ``WAREHOUSE_DB`` (profiles.yml) at every invocation: each
    call sets it, with the variables ``env`` gives for that warehouse, for its duration only.
    """

    def __init__(self, db: Path | None = None, env: Callable[[Path], Mapping[str, str]] | None = None):
        self.db = Path(db).resolve() if db is not None else None
        self._env = env or _service_env
        self._args = ["--project-dir", str(ROOT), "--profiles-dir", str(ROOT)]
        self._runner = None

    def warm(self) -> None:
        """Import dbt and parse the project now (seconds), so that the first build is fast."""
        self._warm_runner()

    def _warm_runner(self):  # -> dbtRunner
        from dbt.cli.main import dbtRunner  # seconds to import: only in a process that builds

        if self._runner is None:
            with _environment({"DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}):
                parsed = dbtRunner().invoke(
                    ["--quiet", "--no-use-colors", "parse", "--log-level", "none", *self._args]
                )
            if not parsed.success:
                raise RuntimeError(f"dbt could not parse the project: {parsed.exception}")
            self._runner = dbtRunner(manifest=parsed.result)
        return self._runner

    def invoke(self, *args: str, db: Path | None = None):  # -> dbtRunnerResult
        """``dbt <args>`` on ``db`` (default: this runner's warehouse), quietly."""
        runner = self._warm_runner()
        warehouse = Path(db).resolve() if db is not None else self.db
        if warehouse is None:
            raise ValueError("WarmDbt.invoke needs a warehouse: WarmDbt(db) or invoke(..., db=...)")
        with _environment(self._env(warehouse)):
            return runner.invoke(["--quiet", "--no-use-colors", *args, *self._args])

    def build(self, tests: str = "all") -> BuildResult:
        """An incremental ``dbt build`` (models, then their tests, in dependency order).

        ``tests="changed"``: the big models' tests read only the rows added or changed since the
        last build that passed (macros/test_scope.sql); ``"all"``: whole tables."""
        scope = ["--vars", '{"test_scope": "changed"}'] if tests == "changed" else []
        try:
            result = self.invoke("build", *BUILD_FLAGS, *scope)
        except RuntimeError as exc:
            return BuildResult(False, str(exc))
        if isinstance(result.exception, KeyboardInterrupt):  # dbt cancelled its query: pass it on
            raise result.exception
        if result.exception is not None and result.result is None:
            return BuildResult(False, f"dbt failed: {result.exception}")
        return BuildResult(result.success, _summary(result.result.results))


def _service_env(db: Path) -> dict[str, str]:
    """What the refresh service gives dbt: the warehouse, and dbt's attached schemas beside it
    unless DBT_SQLITE_SCHEMA_DIR says where."""
    return {
        "WAREHOUSE_DB": str(db),
        "DBT_SQLITE_SCHEMA_DIR": os.environ.get("DBT_SQLITE_SCHEMA_DIR") or str(db.parent / "dbt_schemas"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def _summary(results: list) -> str:
    bad = [r for r in results if str(r.status) in ("error", "fail", "runtime error")]
    skipped = sum(1 for r in results if str(r.status) == "skipped")
    if not bad:
        models = sum(1 for r in results if r.node.resource_type == "model")
        return f"{models} models built, {len(results) - models} tests passed"
    shown = "; ".join(f"{r.node.name}: {(r.message or str(r.status))[:160]}" for r in bad[:3])
    more = f" (+{len(bad) - 3} more)" if len(bad) > 3 else ""
    return f"{len(bad)} failed, {skipped} skipped: {shown}{more}"
