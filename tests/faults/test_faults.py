"""The fault suite: hostile inputs and broken servers, one case each, against real parts.

Every case runs the loader library on a real SQLite file over real HTTP on 127.0.0.1 and
checks what the README promises: the feed's status and message, its ``loader_runs`` row,
the rows stored (all or nothing) and the rejected rows with their reasons. The table is
docs/reliability.md's; database, temp-folder, signal and option faults follow it.
"""

from __future__ import annotations

import codecs
import os
import resource
import signal
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import (
    FAST,
    PRODUCTS_HEADER,
    SALES_HEADER,
    STORES_HEADER,
    FeedServer,
    csv_body,
    query,
    run,
    scalar,
    snapshot,
    spawn_loader,
)

from loader import LoadOptions, connect, load_feeds
from loader.errors import FetchError
from loader.fetch import HttpOptions
from loader.generate import generate
from loader.urlpolicy import check_redirect

# the last line ends with store 10: a body cut by one byte would read store 1
SALES = ["2023-05-27,REF001,5,1", "2023-05-28,REF002,3,2", "2023-05-29,REF003,2,10"]
PRODUCTS = ["Théière en fonte,REF001,49.90,10", "Moulin à poivre,REF002,24.50,5"]


@dataclass
class Case:
    id: str
    body: bytes
    faults: list[str] = field(default_factory=list)
    feed: str = "sales"
    content_type: str = "text/csv; charset=utf-8"
    http: dict = field(default_factory=dict)
    status: str = "loaded"
    error: str | None = None  # a part of the message
    stored: list[str] | None = None  # sale ids (sales) or names (products) expected in the raw table
    rejects: list[str] = field(default_factory=list)  # a part of each reject reason, in line order
    encoding: str | None = None
    # a deadline promise: the load ends within --max-seconds and this margin, whatever the server
    # does (a hard bound, not a speed measure: the server would hold it for 13 s or more)
    within_deadline: bool = False


def sale_ids(lines: list[str]) -> list[str]:
    return [
        f"{line.rsplit(',', 3)[0]}|{line.split(',')[1]}|{line.split(',')[3]}|{line.split(',')[2]}|1"
        for line in lines
    ]


GOOD_IDS = ["2023-05-27|REF001|1|5|1", "2023-05-28|REF002|2|3|1", "2023-05-29|REF003|10|2|1"]
SALES_BODY = csv_body(SALES_HEADER, SALES)

CASES = [
    # --- bodies that are not whole -------------------------------------------------------------
    Case("no-length-cut-then-whole", SALES_BODY, ["nolength-cut", "nolength", "nolength", "nolength"],
         stored=GOOD_IDS),
    Case("no-length-whole", SALES_BODY, ["nolength", "nolength"], stored=GOOD_IDS),
    Case("gzip-without-end-marker-retried", SALES_BODY, ["gzip-cut", "gzip"], stored=GOOD_IDS),
    Case("gzip-without-end-marker-always", SALES_BODY, ["gzip-cut"] * 4, status="failed",
         error="has no end", stored=[]),
    Case("gzip-anyway", SALES_BODY, ["gzip"], stored=GOOD_IDS),
    Case("claims-gzip-is-not", SALES_BODY, ["fake-gzip"], status="failed", error="claims gzip", stored=[]),
    Case("truncated-with-length", SALES_BODY, ["truncate"] * 4, status="failed", error="truncated", stored=[]),
    # --- servers that misbehave ----------------------------------------------------------------
    Case("redirect-to-file-scheme", SALES_BODY, ["redirect-file"], status="failed", error="file: URL",
         stored=[]),
    Case("redirect-loop", SALES_BODY, ["redirect-loop"] * 10, status="failed", error="more than 5 redirects",
         stored=[]),
    Case("drips-one-byte-at-a-time", SALES_BODY, ["drip"], http={"max_seconds": 1.0, "retries": 0},
         status="failed", error="--max-seconds", stored=[], within_deadline=True),
    Case("drips-its-headers", SALES_BODY, ["drip-head"], http={"max_seconds": 1.0, "retries": 0, "read_timeout": 30},
         status="failed", error="--max-seconds", stored=[], within_deadline=True),
    Case("drips-its-headers-at-every-retry", SALES_BODY, ["drip-head"] * 4,
         http={"max_seconds": 1.5, "retries": 3, "backoff": 0.1, "read_timeout": 30},
         status="failed", error="--max-seconds", stored=[], within_deadline=True),
    Case("silent-after-connect", SALES_BODY, ["silent"], http={"max_seconds": 1.0, "retries": 2, "read_timeout": 30},
         status="failed", error="--max-seconds", stored=[], within_deadline=True),
    Case("larger-than-max-bytes", SALES_BODY, [], http={"max_bytes": 40}, status="failed",
         error="--max-bytes", stored=[]),
    Case("html-login-page", SALES_BODY, ["html"], status="failed", error="HTML page", stored=[]),
    # --- only a whole answer is a sheet (issue 19, class 1) ----------------------------------------
    Case("partial-206", SALES_BODY, ["partial-206"] * 4, status="failed", error="only a whole 200", stored=[]),
    Case("whole-body-as-206", SALES_BODY, ["whole-206"] * 4, status="failed", error="only a whole 200", stored=[]),
    Case("content-range-on-a-200", SALES_BODY, ["range-on-200"] * 4, status="failed", error="Content-Range",
         stored=[]),
    Case("status-203", SALES_BODY, ["status-203"] * 4, status="failed", error="HTTP 203", stored=[]),
    # --- encodings -------------------------------------------------------------------------------
    Case("declared-iso-8859-1", "\r\n".join([PRODUCTS_HEADER, *PRODUCTS]).encode("latin-1"), feed="products",
         content_type="text/csv; charset=iso-8859-1", stored=["Moulin à poivre", "Théière en fonte"],
         encoding="iso8859-1"),
    Case("cp1252-french-excel", "\r\n".join(
        [PRODUCTS_HEADER.replace(",", ";"), "Théière « fonte »;REF001;49,90 €;10", "Moulin;REF002;24,50;5"]
    ).encode("cp1252"), feed="products", content_type="text/csv", stored=["Moulin", "Théière « fonte »"],
         encoding="cp1252"),
    Case("utf-16-with-bom", codecs.BOM_UTF16_LE + "\r\n".join([PRODUCTS_HEADER, *PRODUCTS]).encode("utf-16-le"),
         feed="products", content_type="text/csv", stored=["Moulin à poivre", "Théière en fonte"],
         encoding="utf-16"),
    Case("utf-16-without-bom", "\r\n".join([PRODUCTS_HEADER, *PRODUCTS]).encode("utf-16-le"), feed="products",
         content_type="text/csv", status="failed", error="NUL byte on line 1 (byte 1): binary data, or UTF-16", stored=[]),
    Case("nul-byte-on-line-3", csv_body(SALES_HEADER, [SALES[0], "2023-05-28,REF0\x0002,3,2", SALES[2]]),
         status="failed", error="NUL byte on line 3", stored=[]),
    Case("nul-byte-in-a-quoted-field", csv_body(PRODUCTS_HEADER, [PRODUCTS[0], '"Moulin\x00",REF002,24.50,5']),
         feed="products", status="failed", error="NUL byte on line 3", stored=[]),
    Case("nul-byte-after-the-first-megabyte", csv_body(SALES_HEADER, [SALES[0]] * 60_000 + ["2023-05-28,REF002,3,2\x00"]),
         status="failed", error="NUL byte on line 60002", stored=[]),
    Case("header-split-unlike-rows", csv_body(SALES_HEADER.replace(",", ";"), SALES), status="failed",
         error="header is split by ';' but the rows by ','", stored=[]),
    # --- rows the csv module cannot read: bounded rejects, reading goes on ------------------------
    Case("field-over-the-limit", csv_body(SALES_HEADER, [SALES[0], "2023-05-28,REF" + "9" * 70_000 + ",1,1",
                                                         SALES[1]]),
         stored=GOOD_IDS[:2], rejects=["unreadable CSV"]),
    Case("stray-quote-swallows-the-rest", csv_body(SALES_HEADER, [SALES[0], '2023-05-28,"REF002,3,2', SALES[2]]),
         stored=GOOD_IDS[:1], rejects=["several lines were read as one field"]),
    # --- values no business has ----------------------------------------------------------------
    Case("implausible-values", csv_body(SALES_HEADER, [
        SALES[0],
        "2023-05-28,REF002,²,2",  # str.isdigit() says yes, int() says no
        "2023-05-28,REF002,٣,2",  # Arabic-Indic digit: int() would take it
        "2023-05-28,REF002,123456789012345678901,2",
        "2023-05-28,REF002,1e3,2",
        "0001-01-01,REF002,1,2",
        "9999-12-31,REF002,1,2",
    ]), stored=GOOD_IDS[:1], rejects=["not a whole number", "not a whole number", "implausibly large",
                                       "not a whole number", "outside", "outside"]),
    Case("implausible-prices", csv_body(PRODUCTS_HEADER, [
        PRODUCTS[0], "Moulin,REF002,1e308,5", "Bol,REF003,1_000,5", "Tasse,REF004,inf,5", "Mug,REF005,-1,5",
        "Vase,REF006,2000000,5",
    ]), feed="products", stored=["Théière en fonte"],
         rejects=["invalid number", "invalid number", "invalid number", "negative price", "over"]),
    Case("prices-with-thin-and-narrow-spaces", csv_body(PRODUCTS_HEADER, [
        'Théière,REF001,"1\u2009299,00 €",10', 'Moulin,REF002,"1\u202f299,50\u00a0€",5',
        'Bol,REF003,"1\u2007299,00",5', 'Tasse,REF004,"1\u200a299,00",5',
    ]), feed="products", stored=["Bol", "Moulin", "Tasse", "Théière"]),
    Case("prices-with-a-fraction-of-a-cent", csv_body(PRODUCTS_HEADER, [
        PRODUCTS[0], "Moulin,REF002,\"1,999\",5", "Bol,REF003,0.001,5", "Tasse,REF004,\"4,900\",5",
    ]), feed="products", stored=["Tasse", "Théière en fonte"],
         rejects=["fraction of a cent", "fraction of a cent"]),
    Case("references-normalised", csv_body(SALES_HEADER, [
        "2023-05-27,ref001,5,1", "2023-05-27,REF001\u200b,5,1", "2023-05-27, Ｒef001 ,5,01",
    ]), stored=["2023-05-27|REF001|1|5|1", "2023-05-27|REF001|1|5|2", "2023-05-27|REF001|1|5|3"]),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault(case: Case, server: FeedServer, db: Path) -> None:
    url = server.serve(f"/{case.feed}.csv", case.body, content_type=case.content_type)
    server.routes[f"/{case.feed}.csv"].faults = list(case.faults)
    http = {**FAST.__dict__, "retries": 3, "read_timeout": 2.0, **case.http}
    started = time.monotonic()
    result = run(db, LoadOptions(http=HttpOptions(**http)), **{case.feed: url})[case.feed]
    took = time.monotonic() - started

    assert result.status == case.status, result.error
    if case.within_deadline:
        assert took < http["max_seconds"] + 3, f"{took:.1f} s for --max-seconds {http['max_seconds']}"
    if case.error:
        assert case.error in (result.error or ""), result.error
    run_row = query(db, "select status, error, encoding from loader_runs order by run_id desc limit 1")[0]
    assert run_row[:2] == (result.status, result.error)  # audited, with the message the user saw
    if case.encoding:
        assert run_row[2] == case.encoding
    if case.stored is not None:
        if case.feed == "sales":
            stored = [r[0] for r in query(db, "select sale_id from raw_sales order by line_number")]
        else:
            stored = [r[0] for r in query(db, "select product_name from raw_products order by product_name")]
        assert stored == case.stored
    reasons = [r[0] for r in query(db, "select reason from loader_rejects order by line_number, reject_id")]
    assert len(reasons) == len(case.rejects), reasons
    for reason, expected in zip(reasons, case.rejects, strict=True):
        assert expected in reason, reasons
        assert len(reason) < 400


# --- faults that need more than a served body ---------------------------------------------------


def test_a_bad_products_file_does_not_stop_the_other_feeds(server: FeedServer, db: Path) -> None:
    products = server.serve("/p.csv", b"\x00\x01binary")
    stores = server.serve("/s.csv", csv_body(STORES_HEADER, ["1,Paris,10"]))
    sales = server.serve("/v.csv", SALES_BODY)
    results = run(db, products=products, stores=stores, sales=sales)
    assert [results[f].status for f in ("products", "stores", "sales")] == ["failed", "loaded", "loaded"]


def test_a_partial_answer_retires_nothing(server: FeedServer, db: Path) -> None:
    """A sheet loaded whole, then a server that sends its first half as a 206: failed, audited,
    and not one sale of the second half retired."""
    lines = [f"2023-05-{day:02d},REF00{day % 3 + 1},{day},1" for day in range(1, 21)]
    url = server.serve("/v.csv", csv_body(SALES_HEADER, lines))
    assert run(db, LoadOptions(http=FAST), sales=url)["sales"].ok
    before = snapshot(db)
    server.routes["/v.csv"].body = csv_body(SALES_HEADER, lines + ["2023-05-21,REF001,1,1"])  # changed
    server.routes["/v.csv"].faults = ["partial-206"] * 4
    result = run(db, LoadOptions(http=FAST), sales=url)["sales"]
    assert result.status == "failed" and "only a whole 200" in result.error
    assert snapshot(db) == before and scalar(db, "select count(*) from raw_sales_events") == 0


def test_reading_stored_sales_with_the_other_date_order_is_refused(server: FeedServer, db: Path) -> None:
    url = server.serve("/v.csv", csv_body(SALES_HEADER, ["05/06/2023,REF001,1,1", "04/06/2023,REF002,1,1"]))
    assert run(db, LoadOptions(http=FAST, date_format="DD/MM/YYYY"), sales=url)["sales"].ok
    before = snapshot(db)
    again = run(db, LoadOptions(http=FAST, date_format="MM/DD/YYYY", force=True), sales=url)["sales"]
    assert again.status == "failed" and "read as DD/MM/YYYY until now" in again.error
    assert snapshot(db) == before  # not one sale stored twice


def full_database(db: Path, spare_pages: int) -> sqlite3.Connection:
    """The loader's connection on a database that can grow by ``spare_pages`` pages only."""
    con = connect(db)
    pages = con.execute("pragma page_count").fetchone()[0]
    con.execute(f"pragma max_page_count = {pages + spare_pages}")
    return con


def test_a_full_database_fails_the_feed_never_reports_success(tmp_path: Path, db: Path) -> None:
    feeds = tmp_path / "feeds"
    generate(feeds, days=30, rows=20_000)
    con = full_database(db, spare_pages=8)
    try:
        [result] = load_feeds(con, {"sales": str(feeds / "ventes.csv")}, LoadOptions())
    finally:
        con.close()
    assert result.status == "failed" and "full" in result.error
    assert result.rows_inserted == 0 and result.audit_error is None
    assert scalar(db, "select count(*) from raw_sales") == 0
    assert query(db, "select status from loader_runs") == [("failed",)]


def fill_loader_runs(con: sqlite3.Connection) -> None:
    """Fill the database to its last byte: no row can be added to loader_runs any more."""
    con.execute(f"pragma max_page_count = {con.execute('pragma page_count').fetchone()[0] + 2}")
    for error in ("x" * 2000, "x" * 200, "x", None):
        while True:
            try:
                con.execute(
                    "insert into loader_runs (batch_id, feed, source, started_at, status, error) "
                    "values ('filler', 'sales', 'filler', '', 'failed', ?)",
                    (error,),
                )
            except sqlite3.OperationalError:
                break


def test_when_not_even_the_audit_row_fits_the_user_is_told(tmp_path: Path, db: Path) -> None:
    from loader.cli import format_result

    feeds = tmp_path / "feeds"
    generate(feeds, days=30, rows=20_000)
    con = connect(db)
    fill_loader_runs(con)
    try:
        [result] = load_feeds(con, {"sales": str(feeds / "ventes.csv")}, LoadOptions())
    finally:
        con.close()
    assert result.status == "failed" and result.audit_error and "full" in result.audit_error
    assert "AUDIT LOST" in format_result(result)
    assert scalar(db, "select count(*) from raw_sales") == 0
    assert scalar(db, "select count(*) from loader_runs where batch_id != 'filler'") == 0


def test_a_full_temp_folder_is_an_audited_failure(server: FeedServer, tmp_path: Path, db: Path) -> None:
    url = server.serve("/v.csv", csv_body(SALES_HEADER, SALES * 30_000))  # ~2 MB

    def small_files() -> None:  # files this process writes stop at 1 MiB: EFBIG, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    proc = spawn_loader("--db", str(db), "--only", "sales", "--sales", url, preexec_fn=small_files)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (out, err)
    assert "cannot write the download" in err and "Traceback" not in err
    assert query(db, "select status from loader_runs") == [("failed",)]


def test_sigterm_rolls_back_cleans_up_and_exits_143(tmp_path: Path, db: Path) -> None:
    feeds, temp = tmp_path / "feeds", tmp_path / "tmp"
    temp.mkdir()
    generate(feeds, days=200, rows=600_000)
    env = {**os.environ, "TMPDIR": str(temp)}
    proc = spawn_loader(
        "--db", str(db), "--only", "sales", "--sales", f"file://{feeds / 'ventes.csv'}", env=env
    )
    wal = Path(f"{db}-wal")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not wal.exists() or wal.stat().st_size < 2_000_000):
        time.sleep(0.02)
    assert proc.poll() is None, "the load ended before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, (out, err)
    assert err.strip().count("\n") == 0 and "interrupted by SIGTERM" in err
    assert scalar(db, "select count(*) from raw_sales") == 0
    assert list(temp.iterdir()) == []  # the temporary download folder is gone


@pytest.mark.parametrize(
    "args",
    [["--retries", "-1"], ["--read-timeout", "0"], ["--backoff", "nan"], ["--limit", "bogus=1"],
     ["--limit", "max_quantity=lots"], ["--max-bytes", "0"]],
    ids=lambda a: " ".join(a),
)  # fmt: skip
def test_invalid_option_values_are_usage_errors(args: list[str], db: Path) -> None:
    proc = spawn_loader("--db", str(db), *args)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "usage:" in err and "Traceback" not in err


def test_from_dir_reads_regular_files_inside_the_folder_only(tmp_path: Path, db: Path) -> None:
    feeds, secret = tmp_path / "feeds", tmp_path / "secret.txt"
    generate(feeds, days=5, rows=50)
    secret.write_text("root:x:0:0:the first line of a private file\n")
    (feeds / "produits.csv").unlink()
    (feeds / "produits.csv").symlink_to(secret)
    proc = spawn_loader("--db", str(db), "--from-dir", str(feeds))
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "outside" in err
    errors = " ".join(r[0] or "" for r in query(db, "select error from loader_runs"))
    assert "root:x" not in errors and "root:x" not in err


@pytest.mark.parametrize(
    ("origin", "target", "allowed"),
    [
        ("http://8.8.8.8/pub", "https://8.8.4.4/csv", True),
        ("http://8.8.8.8/pub", "http://127.0.0.1:8001/", False),
        ("http://8.8.8.8/pub", "http://10.0.0.5/", False),
        ("http://8.8.8.8/pub", "http://[::1]/", False),
        ("http://127.0.0.1/pub", "http://127.0.0.1/other", True),  # a local URL the operator chose
        ("http://127.0.0.1/pub", "file:///etc/passwd", False),
    ],
)
def test_redirect_policy(origin: str, target: str, allowed: bool) -> None:
    if allowed:
        check_redirect(origin, target)
    else:
        with pytest.raises(FetchError):
            check_redirect(origin, target)


@pytest.mark.slow
def test_load_times_only_go_forward_when_the_clock_steps_back(tmp_path: Path, db: Path) -> None:
    """Issue 19, class 6: the previous loads were stamped while the clock stood an hour ahead
    (stepped back since). A price change loaded now must still come after them: the new sales
    take the new price, and an incremental build equals a full refresh."""
    from helpers import dbt, load

    feeds = tmp_path / "feeds"
    generate(feeds, days=20, rows=2_000, seed=1)
    load(db, feeds)
    with sqlite3.connect(db) as con:  # the clock stood an hour ahead at those loads
        ahead = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+1 hour')"
        for table in ("loader_runs", "raw_products", "raw_stores"):
            con.execute(f"update {table} set loaded_at = {ahead}")
    dbt(db, "build")
    newest = scalar(db, "select max(loaded_at) from loader_runs")
    rows = (feeds / "produits.csv").read_bytes().decode().split("\r\n")
    name, ref, price, stock = rows[1].split(",")
    rows[1] = f"{name},{ref},{float(price) + 10:.2f},{stock}"
    (feeds / "produits.csv").write_bytes("\r\n".join(rows).encode())
    generate(feeds, days=2, rows=300, append=True, seed=2)
    load(db, feeds)
    times = [
        r[0] for r in query(db, "select loaded_at from loader_runs where status = 'loaded' order by run_id")
    ]
    assert times == sorted(times) and times[-1] > newest  # never backwards
    dbt(db, "build")
    late = query(
        db,
        "select distinct unit_price from fct_sales where product_id = ? and sale_date > '2023-01-20'",
        (ref,),
    )
    assert late == [(round(float(price) + 10, 2),)]  # the sales loaded after the change: the new price
    full = tmp_path / "full.db"
    with sqlite3.connect(db) as source, sqlite3.connect(full) as copy:
        source.backup(copy)  # the WAL included: a file copy would miss the last loads
    dbt(full, "build", "--full-refresh")
    compared = "select sale_id, unit_price, revenue from fct_sales order by sale_id"
    assert query(db, compared) == query(full, compared)
