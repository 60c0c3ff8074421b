"""Command line: ``python -m loader``. A thin shell over :func:`loader.load.load_feeds`."""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
from collections.abc import Sequence
from pathlib import Path

from .audit import FeedResult
from .db import add_db_argument, connect
from .feeds import FEEDS
from .fetch import HttpOptions
from .load import LoadOptions, load_feeds
from .values import DATE_FORMATS

EPILOG = """\
sources (SRC): an http(s) URL, a file:// URL or a local path. Each feed defaults to its
environment variable, else to the client's published Google Sheet:
  --sales     LOADER_SALES_URL
  --products  LOADER_PRODUCTS_URL
  --stores    LOADER_STORES_URL
--from-dir DIR reads ventes.csv, produits.csv and magasins.csv from DIR instead.

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
    add_db_argument(parser, "SQLite warehouse file, created if missing")
    for spec in FEEDS:
        parser.add_argument(f"--{spec.name}", metavar="SRC", help=f"{spec.name} feed (env {spec.env_var})")
    parser.add_argument("--from-dir", metavar="DIR", help="read the three feeds from files in DIR")
    parser.add_argument(
        "--only",
        action="append",
        choices=[s.name for s in FEEDS],
        help="load only this feed (repeatable); default: all three",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="ignore the unchanged shortcut (no conditional GET, no sha256 skip); dedup still applies",
    )
    parser.add_argument(
        "--date-format",
        choices=list(DATE_FORMATS),
        help="date format of the sales feed; default: detected per file (ISO, DD/MM/YYYY or M/D/YYYY)",
    )
    parser.add_argument(
        "--sales-id-column",
        default=os.environ.get("LOADER_SALES_ID_COLUMN") or None,
        metavar="HEADER",
        help="use this column of the sales feed as sale_id instead of deriving one "
        "(env LOADER_SALES_ID_COLUMN)",
    )
    parser.add_argument("--retries", type=int, default=4, help="HTTP retries on errors, 429 and 5xx (4)")
    parser.add_argument("--backoff", type=float, default=1.0, help="seconds before the first retry (1.0)")
    parser.add_argument("--connect-timeout", type=float, default=10.0, help="HTTP connect timeout, s (10)")
    parser.add_argument("--read-timeout", type=float, default=60.0, help="HTTP read timeout, s (60)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead of text lines")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    return parser


def resolve_sources(args: argparse.Namespace) -> dict[str, str]:
    """Command line, then --from-dir, then environment, then the client's URLs."""
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
            sources[spec.name] = os.environ.get(spec.env_var) or spec.default_url
    return sources


def format_result(result: FeedResult) -> str:
    if not result.ok:
        return f"{result.feed:<9} FAILED     {result.error}  [{result.source}]"
    return (
        f"{result.feed:<9} {result.status:<10} read {result.rows_read:>9,}  "
        f"inserted {result.rows_inserted:>9,}  already present {result.rows_duplicate:>9,}  "
        f"rejected {result.rows_rejected:>7,}  {result.seconds:7.2f}s"
    )


def peak_rss_mb() -> dict[str, float]:
    """Peak resident memory of this process and of its largest child (the sales parser)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"loader": round(own, 1), "parser_process": round(child, 1)}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = LoadOptions(
        force=args.force,
        date_format=args.date_format,
        sales_id_column=args.sales_id_column,
        http=HttpOptions(
            connect_timeout=args.connect_timeout,
            read_timeout=args.read_timeout,
            retries=args.retries,
            backoff=args.backoff,
        ),
        progress=sys.stderr.isatty() if args.progress is None else args.progress,
    )
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
            print(format_result(result))
        if any(r.rows_rejected for r in results):
            print(f"rejected rows are in loader_rejects (with their reason) in {args.db}")
    return 0 if all(r.ok for r in results) else 1
