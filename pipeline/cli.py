"""``python -m pipeline run | watch | serve | docs | health``: the live system's entry points.

A thin shell: ``run`` is one :func:`pipeline.refresh.refresh_once`, ``watch`` is
:func:`pipeline.watch.watch`, ``serve`` is :func:`pipeline.serve.serve`, ``health`` reads the
last successful refresh. Sources and loading options are the loader's own (same flags, same
environment variables), so whatever ``python -m loader`` loads, ``pipeline run`` refreshes. ``docs`` is
:class:`pipeline.docs_site.DocsSite`.
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import sys
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from loader import archive, backup, envvars, parquet
from loader.backup import Retention
from loader.cli import (
    add_folder_argument,
    add_load_arguments,
    at_least,
    load_options,
    positive,
    resolve_sources,
)
from loader.db import add_db_argument, connect
from loader.errors import LoaderError, NotAWarehouse, WarehouseDamaged
from loader.integrity import refuse_damaged

from . import history
from .alerts import Alerts
from .dbt_runner import WarmDbt
from .docs_site import DocsSite
from .errors import AlreadyRunning, Stop
from .events import EventLog
from .health import health
from .lock import single_instance
from .refresh import RefreshConfig, refresh_once
from .serve import serve
from .watch import Stopper, WatchConfig, log_refresh, watch

EPILOG = """\
environment: REFRESH_INTERVAL (seconds between polls, 60), ALERT_AFTER (seconds without a
successful refresh before the data_stale alert and an unhealthy healthcheck: 3 intervals),
ALERT_WEBHOOK_URL (POST a JSON message on failure, recovery and staleness), REPORT_DIR (where
the synthesis sheet goes: <warehouse folder>/report), LOG_FORMAT (text or json), and the
loader's LOADER_SALES_URL, LOADER_PRODUCTS_URL, LOADER_STORES_URL.

exit status: run: 0 refreshed or unchanged, 1 failed, 143/130/129 interrupted; watch: 0 when stopped
by SIGTERM, SIGHUP or Ctrl-C, 1 when another refresh holds the lock; health: 0 healthy, 1 not.
"""


def interval(text: str) -> float:
    """Seconds between polls: 0.1 s (local files, tests) to a day (--interval, REFRESH_INTERVAL)."""
    seconds = positive(float)(text)
    if not 0.1 <= seconds <= 86_400:
        raise argparse.ArgumentTypeError(
            f"{text!r} seconds is outside 0.1 .. 86400 (a tenth of a second to a day)"
        )
    return seconds


def webhook_url(text: str) -> str:
    """An http(s) URL with a host (--alert-webhook, ALERT_WEBHOOK_URL): checked at start, so a
    typo is not found at the first failure, when the alert is needed."""
    parts = urllib.parse.urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL with a host")
    return text.strip()


LOG_FORMATS = ("text", "json")  # --log-format, LOG_FORMAT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Keep the warehouse, its marts, the synthesis sheet and the dashboard current.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    every = envvars.read("REFRESH_INTERVAL", interval) or 60.0
    alert_after = (
        envvars.read("ALERT_AFTER", positive(float)) or 3 * every
    )  # health, serve; watch: 3 x --interval
    refreshing = _refreshing_options()
    commands.add_parser(
        "run",
        parents=[refreshing],
        help="one refresh: load the feeds, dbt build if anything changed, write the synthesis sheet",
    )
    _add_watch(commands, refreshing, every)
    _add_serve(commands, alert_after)
    _add_docs(commands)
    _add_history(commands)
    _add_health(commands, alert_after)
    return parser


def _refreshing_options() -> argparse.ArgumentParser:
    """What run and watch share: the loader's sources and options, the sheet, the log format."""
    refreshing = argparse.ArgumentParser(add_help=False)
    add_load_arguments(refreshing)
    add_folder_argument(
        refreshing,
        "--report-dir",
        "REPORT_DIR",
        "folder of the synthesis sheet (default: <warehouse folder>/report)",
    )
    refreshing.add_argument("--no-report", action="store_true", help="do not write the synthesis sheet")
    refreshing.add_argument(
        "--full-tests-every",
        type=at_least(0, float),
        default=86_400.0,
        metavar="SECONDS",
        help="test whole tables at the first build after this long (86400: daily); the builds between "
        "test only the rows added or changed since the last build that passed. 0: every build",
    )
    refreshing.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=envvars.read("LOG_FORMAT", choices=LOG_FORMATS) or "text",
        help="one line per event, as text or JSON (env LOG_FORMAT)",
    )

    return refreshing


def _add_watch(commands, refreshing: argparse.ArgumentParser, every: float) -> None:
    watch = commands.add_parser(
        "watch", parents=[refreshing], help="refresh every --interval seconds, forever"
    )
    watch.add_argument(
        "--interval",
        type=interval,
        default=every,
        help=f"seconds between polls, 0.1 .. 86400 (env REFRESH_INTERVAL, {every:g})",
    )
    watch.add_argument(
        "--alert-after",
        type=positive(float),
        default=envvars.read("ALERT_AFTER", positive(float)),
        help="seconds without a successful refresh before alerting (env ALERT_AFTER; 3 intervals)",
    )
    watch.add_argument(
        "--max-backoff", type=positive(float), default=900.0, help="longest wait after failures, s (900)"
    )
    add_folder_argument(
        watch,
        "--backup-dir",
        "BACKUP_DIR",
        "a checked backup after each refresh that changed the warehouse, here (default: backups/ beside the warehouse)",
    )
    watch.add_argument("--no-backup", action="store_true", help="take no backup after refreshes")
    watch.add_argument(
        "--backup-keep",
        type=positive(int),
        default=7,
        help="backups kept whatever their age (7), besides the newest of each of the last --backup-days",
    )
    watch.add_argument(
        "--backup-days", type=positive(int), default=30, help="days with one backup kept each (30)"
    )
    watch.add_argument(
        "--alert-webhook",
        type=webhook_url,
        default=envvars.read("ALERT_WEBHOOK_URL", webhook_url),
        metavar="URL",
        help="POST a JSON message here on failure, recovery and staleness (env ALERT_WEBHOOK_URL)",
    )


def _add_serve(commands, alert_after: float) -> None:
    serve = commands.add_parser("serve", help="the storage service: Datasette and the French dashboard")
    add_db_argument(serve, "the warehouse to serve (read-only)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8001, help="port (8001)")
    serve.add_argument(
        "--wait",
        action="store_true",
        help="wait for the warehouse file to exist (the refresh service creates it)",
    )
    serve.add_argument(
        "--stale-after",
        type=positive(float),
        default=alert_after,
        help="seconds after which the dashboard warns that the data is stale (env ALERT_AFTER; 3 x REFRESH_INTERVAL)",
    )
    add_folder_argument(
        serve,
        "--report-dir",
        "REPORT_DIR",
        "the synthesis sheet served as « Fiche de synthèse » (default: <warehouse folder>/report)",
    )


def _add_docs(commands) -> None:
    docs = commands.add_parser(
        "docs", help="the dbt documentation site, generated again after each build of the warehouse"
    )
    add_db_argument(docs, "the warehouse whose models the site documents")
    docs.add_argument("--host", default="127.0.0.1", help="interface to listen on (127.0.0.1)")
    docs.add_argument("--port", type=int, default=8080, help="port (8080)")
    docs.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="where the site is generated and served from (default: <warehouse folder>/dbt_docs)",
    )
    docs.add_argument(
        "--poll", type=positive(float), default=10.0, help="seconds between looks for a new build (10)"
    )


def _add_history(commands) -> None:
    """backup, restore, rebuild (docs/operations.md)."""
    backup = commands.add_parser("backup", help="a checked, consistent copy of the warehouse, taken online")
    add_db_argument(backup, "the warehouse to copy")
    backup.add_argument(
        "--to", type=Path, default=None, help="folder (default: backups/ beside the warehouse)"
    )

    restore = commands.add_parser(
        "restore",
        help="put a backup in place of the warehouse (moved aside, never deleted), then replay the "
        "loads received since from the landing archive",
    )
    restore.add_argument("--from", dest="backup_file", type=Path, required=True, metavar="BACKUP")
    add_db_argument(restore, "the warehouse to restore")
    add_folder_argument(
        restore,
        "--archive-dir",
        "ARCHIVE_DIR",
        "the landing archive (default: archive/ beside the warehouse)",
    )

    rebuild = commands.add_parser(
        "rebuild", help="a new warehouse from the landing archive alone, then a full dbt build"
    )
    rebuild.add_argument("--archive", type=Path, required=True, metavar="DIR", help="the landing archive")
    rebuild.add_argument(
        "--db", type=Path, required=True, metavar="NEW.db", help="the new warehouse (must not exist)"
    )

    export = commands.add_parser(
        "export-parquet", help="write the Parquet landing of the warehouse again, whole (docs/scaling.md)"
    )
    add_db_argument(export, "the warehouse")
    add_folder_argument(
        export, "--parquet-dir", "PARQUET_DIR", "the Parquet landing (default: parquet/ beside the warehouse)"
    )


def _add_health(commands, alert_after: float) -> None:
    health = commands.add_parser("health", help="exit 0 when the last successful refresh is recent enough")
    add_db_argument(health, "the warehouse")
    health.add_argument(
        "--max-age",
        type=positive(float),
        default=alert_after,
        help="seconds (env ALERT_AFTER; default 3 x REFRESH_INTERVAL)",
    )
    add_folder_argument(
        health,
        "--backup-dir",
        "BACKUP_DIR",
        "where the refresh service keeps its backups: the newest one's age is reported",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser, args = envvars.parse_command_line(build_parser, argv)
    try:
        return _dispatch(parser, args)
    except OSError as exc:  # the folder of the warehouse missing or read-only, a full disk...
        where = f" ({exc.filename})" if exc.filename else ""
        print(
            f"error: {exc.strerror or exc}{where}: check that the warehouse's folder exists and is "
            "writable, and that the disk has room",
            file=sys.stderr,
        )
        return 1
    except Exception as exc:  # a bug: still one line, never a traceback in a service's log
        print(f"error: unexpected {type(exc).__name__}: {str(exc)[:300]} (please report it)", file=sys.stderr)
        return 1


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "serve":
        return serve(Path(args.db), args.host, args.port, args.stale_after, args.wait, args.report_dir)
    if args.command == "health":
        return health(Path(args.db), args.max_age, args.backup_dir)
    if args.command in ("backup", "restore", "rebuild", "export-parquet"):
        return _history(args)
    if args.command == "docs":
        db = Path(args.db)
        site = DocsSite(db, args.work_dir or db.parent / "dbt_docs", EventLog("text"))
        return site.serve(args.host, args.port, args.poll)
    return _refresh_command(parser, args)


def _history(args: argparse.Namespace) -> int:
    """backup | restore | rebuild: one line on success, one line on failure (exit 1)."""
    db = Path(args.db)
    work = db.resolve().parent / "dbt"
    try:
        if args.command == "backup":
            print(f"backup written and checked: {backup.take(db, args.to)}")
            return 0
        if args.command == "export-parquet":
            folder = args.parquet_dir or parquet.default_dir(db)
            print(f"wrote the Parquet landing {folder}: {export_parquet(db, folder)} runs")
            return 0
        if args.command == "restore":
            archive_dir = args.archive_dir or archive.default_dir(db)
            done = history.restore(args.backup_file, db, archive_dir, work)
            aside = ", ".join(str(p) for p in done.moved_aside) or "no previous file"
            print(f"restored {db} from {args.backup_file} (previous file moved aside: {aside}); "
                  f"replayed {done.loads} loads received after the backup from {archive_dir}")  # fmt: skip
        else:
            done = history.rebuild(args.archive, db, work)
            print(
                f"rebuilt {db} from {args.archive}: {done.loads} loads replayed, {done.rows_inserted} rows stored"
            )
    except (LoaderError, AlreadyRunning, OSError, sqlite3.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:  # a restore or a rebuild numbers runs anew: their landing is written again, whole
        export_parquet(db, parquet.default_dir(db))
    except (OSError, sqlite3.Error) as exc:
        print(f"warning: the Parquet landing could not be written ({exc}): run `python -m pipeline "
              "export-parquet`", file=sys.stderr)  # fmt: skip
    if not done.dbt_ok:
        print(
            f"error: the data is back, but dbt build failed: run `dbt build` to see why\n{done.dbt_output}",
            file=sys.stderr,
        )
        return 1
    print("dbt build: ok")
    return 0


def export_parquet(db: Path, folder: Path) -> int:
    """The whole Parquet landing of ``db`` written again into ``folder``; returns the runs landed."""
    if not db.is_file():
        raise LoaderError(f"no warehouse at {db}: run the loader first (python -m loader)")
    con = connect(db)
    try:
        return parquet.Landing(folder).export(con)
    finally:
        con.close()


def _refresh_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    db = Path(args.db)
    try:
        refuse_damaged(db)
    except (NotAWarehouse, WarehouseDamaged) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    config = RefreshConfig(
        db=db,
        sources=resolve_sources(args),
        load=load_options(parser, args),
        report_dir=None if args.no_report else (args.report_dir or db.parent / "report"),
        command=args.command,
        full_tests_every=args.full_tests_every,
    )
    log = EventLog(args.log_format)
    try:
        with single_instance(db):
            if args.command == "watch":
                return _watch(config, args, log)
            return _run_once(config, log)
    except AlreadyRunning as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _run_once(config: RefreshConfig, log: EventLog) -> int:
    stopper = Stopper()
    stopper.install()
    try:
        with stopper.step():
            refresh = refresh_once(config, WarmDbt(config.db), log)
    except Stop:
        log("refresh_interrupted", signal=stopper.signal_name, detail="the step under way rolled back")
        return 128 + signal.Signals[stopper.signal_name or "SIGTERM"].value
    log_refresh(log, refresh)
    return 0 if refresh.ok else 1


def _watch(config: RefreshConfig, args: argparse.Namespace, log: EventLog) -> int:
    stopper = Stopper()
    stopper.install()
    alerts = Alerts(log, args.alert_webhook, warehouse=str(config.db), abandon=stopper.requested)
    settings = WatchConfig(
        interval=args.interval,
        alert_after=args.alert_after or 3 * args.interval,
        max_backoff=args.max_backoff,
        backup_dir=None if args.no_backup else (args.backup_dir or backup.default_dir(config.db)),
        retention=Retention(keep_last=args.backup_keep, keep_days=args.backup_days),
    )
    return watch(config, settings, log, alerts, stopper)
