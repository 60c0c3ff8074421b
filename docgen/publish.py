"""Regenerate the committed deliverables in docs/ from a folder of the client's feeds.

    python -m docgen.publish [--client-data DIR] [--as-of UTC]    (make docs)

Serves the folder over HTTP on 127.0.0.1, as the published Google Sheets links would serve
it, loads it with the loader into a fresh warehouse (data/client/warehouse.db), runs
`dbt build`, then writes the synthesis sheet and its charts, the data profile and the
database schema into docs/. A developer tool: nothing at run time depends on it.

The feeds default to the client's snapshot committed in tests/fixtures/client_data/. The
output is reproducible: the same feeds give the same files, whatever the day or the loopback
port, because the pages show ``--as-of`` (the snapshot's date) for the generation and load
times and the feeds' file names for their source.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import threading
from collections.abc import Sequence
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from loader import LoadOptions, connect, load_feeds
from loader.feeds import FEEDS
from loader.helptext import plain
from pipeline import runs as pipeline_runs
from pipeline.dbt_runner import run_dbt
from report import synthese

from . import profile, schema_doc

ROOT = Path(__file__).resolve().parents[1]
CLIENT_DATA = ROOT / "tests" / "fixtures" / "client_data"
SNAPSHOT_TAKEN = "2026-11-29T11:55:20Z"  # when the client's committed snapshot was loaded


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m docgen.publish", description=plain(__doc__.splitlines()[0])
    )
    parser.add_argument(
        "--client-data",
        type=Path,
        default=CLIENT_DATA,
        help="folder with ventes/produits/magasins.csv (default: the committed client snapshot)",
    )
    parser.add_argument(
        "--as-of",
        default=SNAPSHOT_TAKEN,
        help=f"UTC time the pages give for the generation and the loads ({SNAPSHOT_TAKEN})",
    )
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "client")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    missing = [s.file_name for s in FEEDS if not (args.client_data / s.file_name).is_file()]
    if missing:
        print(f"error: {args.client_data} lacks {', '.join(missing)}", file=sys.stderr)
        return 1
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    db = args.work / "warehouse.db"

    handler = functools.partial(_QuietHandler, directory=str(args.client_data))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        con = connect(db)
        try:
            results = load_feeds(con, {s.name: f"{base}/{s.file_name}" for s in FEEDS}, LoadOptions())
        finally:
            con.close()
    finally:
        server.shutdown()
    for result in results:
        print(
            f"loaded {result.feed}: {result.status}, {result.rows_inserted} rows, {result.rows_rejected} rejected"
        )
    if not all(r.ok for r in results):
        return 1

    if run_dbt(db, args.work, "build", capture=False).returncode != 0:
        return 1
    con = connect(db)
    try:
        pipeline_runs.ensure_table(con)  # the refresh service's audit table: in the schema doc too
    finally:
        con.close()

    label = (
        f"instantané des trois flux publiés par le client (`{args.client_data.name}/` : ventes.csv, produits.csv, "
        "magasins.csv), servi en HTTP comme les liens Google Sheets publiés"
    )
    steps = [
        synthese.main(
            ["--db", str(db), "--out", str(args.docs), "--data-label", label, "--as-of", args.as_of]
        ),
        profile.main(
            [
                "--db",
                str(db),
                "--out",
                str(args.docs / "data_profile.md"),
                "--as-of",
                args.as_of,
                "--source-folder",
                args.client_data.name,
            ]
        ),  # fmt: skip
        schema_doc.main(
            [
                "--db",
                str(db),
                "--manifest",
                str(args.work / "target" / "manifest.json"),
                "--out",
                str(args.docs / "database.md"),
            ]
        ),  # fmt: skip
    ]
    return max(steps)


if __name__ == "__main__":
    raise SystemExit(main())
