"""Command line: ``python -m loader``. A thin shell over :func:`loader.load.load_feeds`."""

from __future__ import annotations

import argparse
import json
import resource
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import archive, envvars, parquet
from .audit import FeedResult
from .db import add_db_argument, connect
from .errors import Interrupted, NotAWarehouse, WarehouseDamaged
from .feeds import FEEDS
from .fetch import HttpOptions
from .integrity import refuse_damaged
from .load import LoadOptions, load_feeds
from .snapshots import SnapshotPolicy
from .values import DATE_FORMATS, Limits

EPILOG = """\
sources (SRC): an http(s) URL, a file:// URL or a local path. Each feed defaults to its
environment variable, else to the client's published Google Sheet:
  --sales     LOADER_SALES_URL
  --products  LOADER_PRODUCTS_URL
  --stores    LOADER_STORES_URL
--from-dir DIR (or LOADER_FROM_DIR) reads ventes.csv, produits.csv and magasins.csv from DIR
instead of the URLs of the environment (a feed's own flag still wins).

Loading is idempotent: a sale already stored is never stored twice (its id is the
normalised date|product|store|quantity plus the occurrence number of that key in the
file), products and stores get a new version only when their content changed, and a
feed identical to its last successful load (HTTP 304 or same sha256) is skipped.
Rows that do not parse are kept in loader_rejects with a reason; every run is audited
in loader_runs.

exit status: 0 when every feed loaded or was unchanged (rejected rows do not count as a
failure), 1 when any feed failed, 2 on a usage error.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loader",
        description="Load the client's CSV feeds (sales, products, stores) into the SQLite warehouse.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_load_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead of text lines")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    return parser


ON_MISSING = ("retire", "keep")  # --on-missing, LOADER_ON_MISSING


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The warehouse, the sources and every loading option: shared with ``python -m pipeline``."""
    add_db_argument(parser, "SQLite warehouse file, created if missing")
    for spec in FEEDS:
        parser.add_argument(f"--{spec.name}", metavar="SRC", help=f"{spec.name} feed (env {spec.env_var})")
    parser.add_argument(
        "--from-dir",
        metavar="DIR",
        default=envvars.read("LOADER_FROM_DIR"),
        help="read the three feeds from files in DIR (env LOADER_FROM_DIR)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[s.name for s in FEEDS],
        help="load only this feed (repeatable); default: all three",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="ignore the unchanged shortcuts (no conditional GET, no sha256 skip, no unchanged-day skip): "
        "every sales row goes through the key, so a row deleted by hand is put back; dedup still applies",
    )
    parser.add_argument(
        "--date-format",
        choices=list(DATE_FORMATS),
        help="date format of the sales feed; default: detected per file (ISO, DD/MM/YYYY or M/D/YYYY)",
    )
    parser.add_argument(
        "--sales-id-column",
        default=envvars.read("LOADER_SALES_ID_COLUMN"),
        metavar="HEADER",
        help="use this column of the sales feed as sale_id instead of deriving one "
        "(env LOADER_SALES_ID_COLUMN)",
    )
    _add_http_arguments(parser)
    _add_value_and_history_arguments(parser)


def _add_http_arguments(parser: argparse.ArgumentParser) -> None:
    """Retries, timeouts and size bounds of a download."""
    parser.add_argument(
        "--retries", type=at_least(0, int), default=4, help="HTTP retries on errors, 429 and 5xx (4)"
    )
    parser.add_argument(
        "--backoff", type=at_least(0.0, float), default=1.0, help="seconds before the first retry (1.0)"
    )
    parser.add_argument(
        "--connect-timeout", type=positive(float), default=10.0, help="HTTP connect timeout, s (10)"
    )
    parser.add_argument(
        "--read-timeout", type=positive(float), default=60.0, help="HTTP read timeout, s (60)"
    )
    parser.add_argument(
        "--max-seconds",
        type=positive(float),
        default=900.0,
        help="overall deadline of one feed's download, retries included, s (900)",
    )
    parser.add_argument(
        "--max-bytes", type=positive(int), default=2 << 30, help="refuse a body larger than this (2 GiB)"
    )


def _add_value_and_history_arguments(parser: argparse.ArgumentParser) -> None:
    """Plausible values, the sheet's edit policy, the landing archive, --debug."""
    parser.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="plausible values (repeatable): min_date, max_date (default 2000-01-01 .. tomorrow), "
        "max_quantity (100000), max_stock (100000000), max_employees (1000000), max_price (1000000)",
    )
    parser.add_argument(
        "--on-missing",
        choices=ON_MISSING,
        default=envvars.read("LOADER_ON_MISSING", choices=ON_MISSING) or "retire",
        help="a sale missing from the sheet inside its dates: retire it (an edit or a deletion, the "
        "default) or keep it (strictly append-only sheets) (env LOADER_ON_MISSING)",
    )
    parser.add_argument(
        "--max-retire-share",
        type=_share,
        default=0.20,
        help="refuse a load that would retire more than this share of the sheet's previous sales "
        "for the same dates (0.20)",
    )
    parser.add_argument(
        "--allow-retire", action="store_true", help="accept a load over --max-retire-share, or an empty sheet"
    )
    add_folder_argument(
        parser,
        "--archive-dir",
        "ARCHIVE_DIR",
        "the landing archive: every body stored, compressed, and the journal of the loads "
        "(default: archive/ beside the warehouse)",
    )
    parser.add_argument(
        "--no-archive",
        action="store_true",
        help="keep no copy of the bodies (a lost warehouse can then not be rebuilt from them)",
    )
    add_folder_argument(
        parser,
        "--parquet-dir",
        "PARQUET_DIR",
        "the Parquet landing: every run's rows also as Parquet, for DuckDB and Spark "
        "(default: parquet/ beside the warehouse)",
    )
    parser.add_argument("--no-parquet", action="store_true", help="land no Parquet copy of the loads")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")


def add_folder_argument(parser: argparse.ArgumentParser, flag: str, env: str, help: str) -> None:
    """A folder option whose default is an environment variable (then a default the command
    derives from the warehouse when both are unset: None here)."""
    parser.add_argument(
        flag, type=Path, default=envvars.read(env, Path), metavar="DIR", help=f"{help} (env {env})"
    )


def at_least(minimum: float, kind: type) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value >= minimum:  # also refuses nan
            raise argparse.ArgumentTypeError(f"{text!r} must be >= {minimum}")
        return value

    return convert


def _share(text: str) -> float:
    value = at_least(0.0, float)(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a share between 0 and 1")
    return value


def positive(kind: type) -> Callable[[str], float]:
    def convert(text: str) -> float:
        value = at_least(0, kind)(text)
        if value == 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{text!r} must be a positive, finite number")
        return value

    return convert


def _on_sigterm(signum: int, _frame: object) -> None:
    raise Interrupted(signum)


def resolve_sources(args: argparse.Namespace) -> dict[str, str]:
    """A feed's own flag, then --from-dir, then environment, then the client's URLs: with
    ``--from-dir DIR --sales URL`` the sales come from URL, the products and stores from DIR."""
    sources = {}
    for spec in FEEDS:
        if args.only and spec.name not in args.only:
            continue
        explicit = getattr(args, spec.name)
        if explicit:
            sources[spec.name] = explicit
        elif args.from_dir:
            sources[spec.name] = str(Path(args.from_dir) / spec.file_name)
        else:
            sources[spec.name] = envvars.read(spec.env_var) or spec.default_url
    return sources


def format_result(result: FeedResult) -> str:
    if not result.ok:
        line = f"{result.feed:<9} FAILED     {result.error}  [{result.source}]"
        return line + (f"\n{result.feed:<9} AUDIT LOST {result.audit_error}" if result.audit_error else "")
    return (
        f"{result.feed:<9} {result.status:<10} read {result.rows_read:>9,}  "
        f"inserted {result.rows_inserted:>9,}  already present {result.rows_duplicate:>9,}  "
        f"rejected {result.rows_rejected:>7,}  {result.seconds:7.2f}s"
        + (
            f"  retired {result.rows_retired:,}  aged out {result.rows_aged_out:,}  restored {result.rows_restored:,}"
            if result.rows_retired or result.rows_aged_out or result.rows_restored
            else ""
        )
    )


def peak_rss_mb() -> dict[str, float]:
    """Peak resident memory of this process and of its largest child (the sales parser)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"loader": round(own, 1), "parser_process": round(child, 1)}


def load_options(
    parser: argparse.ArgumentParser, args: argparse.Namespace, progress: bool = False
) -> LoadOptions:
    """The :class:`LoadOptions` of parsed :func:`add_load_arguments` (a bad --limit exits 2)."""
    try:
        limits = Limits.parse(args.limit)
    except ValueError as exc:
        parser.error(f"--limit {exc}")
    return LoadOptions(
        force=args.force,
        date_format=args.date_format,
        sales_id_column=args.sales_id_column,
        http=HttpOptions(
            connect_timeout=args.connect_timeout,
            read_timeout=args.read_timeout,
            retries=args.retries,
            backoff=args.backoff,
            max_seconds=args.max_seconds,
            max_bytes=args.max_bytes,
        ),
        progress=progress,
        limits=limits,
        debug=args.debug,
        confine_to=Path(args.from_dir) if args.from_dir else None,
        confined=frozenset(spec.name for spec in FEEDS if not getattr(args, spec.name)),
        snapshot=SnapshotPolicy(
            on_missing=args.on_missing, max_retire_share=args.max_retire_share, allow_retire=args.allow_retire
        ),
        archive=archive_dir(args),
        parquet=None if args.no_parquet else (args.parquet_dir or parquet.default_dir(Path(args.db))),
    )


def archive_dir(args: argparse.Namespace) -> Path | None:
    """The landing archive's folder from --archive-dir / --no-archive (None: no archive)."""
    return None if args.no_archive else (args.archive_dir or archive.default_dir(Path(args.db)))


def main(argv: Sequence[str] | None = None) -> int:
    parser, args = envvars.parse_command_line(build_parser, argv)
    options = load_options(parser, args, sys.stderr.isatty() if args.progress is None else args.progress)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _run(args, options)
    except (Interrupted, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        name = signal.Signals(signum).name
        print(
            f"interrupted by {name}: the feed being loaded was rolled back, nothing half-done was stored",
            file=sys.stderr,
        )
        return 128 + signum
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace, options: LoadOptions) -> int:
    try:
        refuse_damaged(Path(args.db))
    except (NotAWarehouse, WarehouseDamaged) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        con = connect(args.db)
    except Exception as exc:  # sqlite3.Error, OSError: the message is all the user needs
        print(f"error: cannot open the warehouse {args.db}: {exc}", file=sys.stderr)
        return 1
    try:
        results = load_feeds(con, resolve_sources(args), options)
    finally:
        con.close()
    if args.json:
        summary = {
            "db": args.db,
            "ok": all(r.ok for r in results),
            "feeds": [r.to_dict() for r in results],
            "peak_rss_mb": peak_rss_mb(),
        }
        print(json.dumps(summary, indent=2))
    else:
        for result in results:
            print(format_result(result), file=sys.stdout if result.ok else sys.stderr)
        if any(r.rows_rejected for r in results):
            print(f"rejected rows are in loader_rejects (with their reason) in {args.db}")
    return 0 if all(r.ok for r in results) else 1
