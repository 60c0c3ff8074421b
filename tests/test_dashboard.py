"""The storage service as the client's managers see it: the French dashboard and the metadata.

The figures are checked against the marts (computed by dbt, independently of the dashboard's
own queries); the page is opened in a real headless Chromium served by ``python -m pipeline
serve``, exactly as the compose service runs it, and must make no request beyond 127.0.0.1 and
log no console error.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser import Chromium
from helpers import CLIENT_DATA, ROOT, query, run_module, scalar

from loader import connect
from pipeline import runs
from pipeline.dashboard import Filters, bar_chart, dashboard
from pipeline.dbt_runner import dbt_env
from pipeline.serve import metadata

# every test here builds the dbt project: part of `make test`, left out of the quick subset
pytestmark = pytest.mark.slow


SPACES = str.maketrans({"\u202f": " ", "\u00a0": " "})


def page(db: Path, filters: Filters | None = None, stale_after: float = 1e12) -> dict:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return dashboard(con, filters or Filters(), stale_after)
    finally:
        con.close()


def euros(value: float) -> str:
    """An amount as the client reads it, formatted here independently of report.fmt."""
    return f"{value:,.2f} €".replace(",", " ").replace(".", ",")


def kpis(result: dict) -> dict[str, str]:
    return {label: value.translate(SPACES) for label, value in result["kpis"]}


def test_key_figures_match_the_marts_and_follow_the_filters(demo_warehouse: Path) -> None:
    total = query(demo_warehouse, "select total_revenue, total_units, sales_count from mart_revenue_total")[0]
    figures = kpis(page(demo_warehouse))
    assert figures["Chiffre d'affaires"] == euros(total[0])
    assert figures["Unités vendues"] == f"{total[1]:,}".replace(",", " ")
    assert figures["Panier moyen"] == euros(total[0] / total[2])

    city, city_revenue = query(demo_warehouse, "select city, revenue from mart_sales_by_city order by rank")[
        -1
    ]
    assert kpis(page(demo_warehouse, Filters(city=city)))["Chiffre d'affaires"] == euros(city_revenue)
    ref, ref_revenue = query(
        demo_warehouse, "select product_id, revenue from mart_sales_by_product where rank = 1"
    )[0]
    assert kpis(page(demo_warehouse, Filters(product=ref)))["Chiffre d'affaires"] == euros(ref_revenue)
    day, day_revenue = query(
        demo_warehouse, "select sale_date, revenue from mart_sales_daily order by sale_date"
    )[3]
    one_day = page(demo_warehouse, Filters(start=day, end=day))
    assert kpis(one_day)["Chiffre d'affaires"] == euros(day_revenue)
    assert one_day["period"].startswith("du ") and "Période courte" in one_day["daily_note"]


def test_the_period_comparison_follows_the_mart_and_any_chosen_period(demo_warehouse: Path) -> None:
    total = query(
        demo_warehouse,
        """select current_start, current_end, previous_start, current_revenue, previous_revenue,
                  current_sales, previous_sales from mart_sales_period_comparison where scope = 'total'""",
    )[0]
    shown = page(demo_warehouse)["comparison"]  # no period chosen: the mart's default period
    figures = {label: [v.translate(SPACES) for v in values] for label, *values in shown["figures"]}
    assert figures["Chiffre d'affaires"][:2] == [euros(total[4]), euros(total[3])]
    assert figures["Ventes"][:2] == [str(total[6]), str(total[5])]
    assert shown["current_label"] == "Période récente" and "7 jours" in shown["title"]

    start, end = "2023-02-01", "2023-02-14"  # a chosen fortnight, against the one before
    expected = {
        period: query(
            demo_warehouse,
            "select coalesce(sum(revenue), 0), coalesce(sum(sales_count), 0) from fct_sales_daily "
            "where sale_date between ? and ?",
            bounds,
        )[0]
        for period, bounds in (("current", (start, end)), ("previous", ("2023-01-18", "2023-01-31")))
    }
    chosen = page(demo_warehouse, Filters(start=start, end=end))["comparison"]
    figures = {label: [v.translate(SPACES) for v in values] for label, *values in chosen["figures"]}
    assert figures["Chiffre d'affaires"][:2] == [
        euros(expected["previous"][0]),
        euros(expected["current"][0]),
    ]
    assert chosen["current_label"] == "Période choisie" and "18 janvier 2023" in chosen["title"]
    by_product = {label: current for label, _previous, current, _delta, _share in chosen["by_product"]}
    assert len(by_product) == scalar(demo_warehouse, "select count(*) from dim_products")
    assert "Jours de la semaine" not in chosen and "lundi" in page(demo_warehouse)["weekdays"]


def test_a_warehouse_built_before_the_dynamics_marts_still_shows_the_page(
    demo_warehouse: Path, tmp_path: Path
) -> None:
    """A warehouse of the previous release, served before its first build by this one."""
    db = tmp_path / "warehouse.db"
    shutil.copy(demo_warehouse, db)
    with sqlite3.connect(db) as con:
        con.execute("drop table mart_sales_period_comparison")
    shown = page(db)
    assert shown["ready"] and "(7 jours)" in shown["comparison"]["title"]
    assert "Chiffre d'affaires" in run_module("report.headline", "--db", str(db)).stdout


def test_the_daily_axis_has_round_values(demo_warehouse: Path) -> None:
    svg = page(demo_warehouse)["daily"]
    labels = re.findall(r'class="axe">([^<]*€)</text>', svg)
    values = [int(label.replace("\u202f", "").replace("\u00a0€", "")) for label in labels]
    step = values[1]
    assert step / 10 ** (len(str(step)) - 1) in (1, 2, 2.5, 5), labels  # 1, 2, 2.5 or 5 x 10^k
    assert values == [i * step for i in range(len(values))], labels


def test_before_the_first_build_the_page_says_so(db: Path) -> None:
    connect(db).close()  # the loader's tables, no marts yet
    result = page(db, stale_after=60)
    assert result["ready"] is False
    assert result["freshness"] == {
        "text": "Les données n'ont jamais été actualisées.",
        "stale": False,
        "warning": None,
    }


def test_malformed_filters_are_ignored_not_errors() -> None:
    assert Filters.from_args({"du": "2023-02-30", "au": "'; drop table x", "ville": "  "}) == Filters()
    assert Filters.from_args({"du": "2023-06-01", "ville": "Paris"}) == Filters(
        start="2023-06-01", city="Paris"
    )


def test_client_text_in_charts_is_escaped() -> None:
    svg = bar_chart([('<script>alert(1)</script> & "co"', 10.0)], 10.0, "#000", "t")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&quot;co&quot;" in svg


def _with_refresh(
    demo_warehouse: Path, tmp_path: Path, command: str, outcome: str
) -> tuple[Path, dt.datetime]:
    """A copy of the demo warehouse whose last refresh was ``command`` ending in ``outcome``, the
    last success at its load time; returns it and a moment 5 h after that load."""
    db = tmp_path / "warehouse.db"
    shutil.copy(demo_warehouse, db)
    loaded = scalar(db, "select max(finished_at) from loader_runs")
    con = sqlite3.connect(db, isolation_level=None)
    runs.ensure_table(con)
    con.execute(
        "insert into pipeline_runs (command, started_at, finished_at, outcome) values (?, ?, ?, 'refreshed')",
        (command, loaded, loaded),
    )
    if outcome != "refreshed":
        con.execute(
            "insert into pipeline_runs (command, started_at, finished_at, outcome, error) values (?, ?, ?, ?, 'x')",
            (command, loaded, loaded, outcome),
        )
    con.close()
    return db, dt.datetime.fromisoformat(loaded.replace("Z", "+00:00")) + dt.timedelta(hours=5)


def _freshness(db: Path, stale_after: float, now: dt.datetime, alerts: bool = False) -> dict:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return dashboard(con, Filters(), stale_after=stale_after, now=now, alerts_configured=alerts)[
            "freshness"
        ]
    finally:
        con.close()


def test_data_the_refresh_service_keeps_current_warns_when_stale(
    demo_warehouse: Path, tmp_path: Path
) -> None:
    db, later = _with_refresh(demo_warehouse, tmp_path, "watch", "refreshed")
    fresh, stale = _freshness(db, 6 * 3600, later), _freshness(db, 3600, later)
    assert fresh["warning"] is None and fresh["text"].startswith("Données actualisées le ")
    assert fresh["text"].endswith("(il y a 5 h).")
    assert (
        stale["stale"] and stale["warning"] == "Attention : les données n'ont pas été actualisées depuis 5 h."
    )


def test_data_refreshed_once_says_when_without_alarm(demo_warehouse: Path, tmp_path: Path) -> None:
    for command in ("run", None):  # `pipeline run` (make demo), or loaded and built by hand
        if command is None:
            db, later = demo_warehouse, _with_refresh(demo_warehouse, tmp_path, "run", "refreshed")[1]
        else:
            db, later = _with_refresh(demo_warehouse, tmp_path, command, "refreshed")
        days_later = _freshness(db, 3600, later + dt.timedelta(days=30))
        assert days_later["stale"] is False and days_later["warning"] is None, days_later
        assert "une seule fois : pas d'actualisation automatique" in days_later["text"]


def test_a_failed_refresh_says_who_knows(demo_warehouse: Path, tmp_path: Path) -> None:
    db, later = _with_refresh(demo_warehouse, tmp_path, "watch", "failed")
    quiet = _freshness(db, 6 * 3600, later, alerts=False)["warning"]
    alerted = _freshness(db, 6 * 3600, later, alerts=True)["warning"]
    assert quiet == "La dernière actualisation a échoué : prévenez l'équipe technique."
    assert alerted == "La dernière actualisation a échoué ; l'équipe technique est prévenue."


def test_every_table_has_a_french_title_and_description_or_is_hidden(
    demo_warehouse: Path, tmp_path: Path
) -> None:
    db = tmp_path / "warehouse.db"
    shutil.copy(demo_warehouse, db)
    con = sqlite3.connect(db, isolation_level=None)
    runs.ensure_table(con)  # what the refresh service adds
    names = [r[0] for r in con.execute("select name from sqlite_master where type in ('table', 'view')")]
    con.close()
    tables = metadata(db, 180)["databases"]["warehouse"]["tables"]
    missing = [
        n
        for n in names
        if not tables.get(n, {}).get("hidden")
        and not (tables.get(n, {}).get("title") and tables[n].get("description"))
    ]
    assert missing == []
    assert {n for n, t in tables.items() if t.get("hidden")} >= {"sqlite_sequence", "dbt_build_horizon"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def client_service(tmp_path_factory: pytest.TempPathFactory):
    """The client's three feeds refreshed into a warehouse, served by ``python -m pipeline serve``."""
    work = tmp_path_factory.mktemp("client")
    db = work / "warehouse.db"
    env = dbt_env(db, work / "dbt")
    subprocess.run([sys.executable, "-m", "pipeline", "run", "--db", str(db), "--from-dir", str(CLIENT_DATA)],
                   cwd=ROOT, env={**env, "ALERT_WEBHOOK_URL": ""}, check=True, capture_output=True)  # fmt: skip
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "pipeline", "serve", "--db", str(db), "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/-/versions.json", timeout=2).read()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise AssertionError(f"pipeline serve did not start: {server.stderr.read()}") from None
            time.sleep(0.3)
    yield base, db
    server.terminate()
    server.wait(timeout=10)


def client_figures() -> tuple[float, int, int]:
    """Revenue, units and sales of the client's feeds, computed from the CSV files directly."""
    with open(CLIENT_DATA / "produits.csv", encoding="utf-8-sig", newline="") as f:
        prices = {row[1]: float(row[2]) for row in list(csv.reader(f))[1:]}
    with open(CLIENT_DATA / "ventes.csv", encoding="utf-8-sig", newline="") as f:
        sales = list(csv.reader(f))[1:]
    return sum(int(r[2]) * prices[r[1]] for r in sales), sum(int(r[2]) for r in sales), len(sales)


def outside(requests: list[str]) -> list[str]:
    """Requests that leave this machine (data: URLs are inline images, never fetched)."""
    return [u for u in requests if not u.startswith(("http://127.0.0.1:", "data:"))]


def screenshots(tmp_path: Path) -> Path:
    """Where the browser tests put their screenshots: a temporary folder, or docs/ with
    ``make screenshots`` (SCREENSHOT_DIR): the tests never rewrite a tracked file by themselves."""
    return Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)


def test_the_dashboard_in_a_real_browser(client_service: tuple[str, Path], tmp_path: Path) -> None:
    base, _db = client_service
    revenue, units, sales = client_figures()
    browser = Chromium(width=1280, height=900)
    try:
        home = browser.visit(f"{base}/")
        assert "Tableau de bord" in home.text
        link = browser.evaluate(
            "[...document.links].find(a => a.textContent.trim() === 'Tableau de bord').href"
        )
        assert link == f"{base}/tableau-de-bord"

        visit = browser.visit(link)
        text = visit.text.translate(SPACES)
        figures = browser.evaluate("document.getElementById('chiffres-cles').innerText").translate(SPACES)
        assert euros(revenue) in figures  # 5 268,78 € for the client's data
        assert f"Unités vendues\n{units}" in figures and f"Ventes\n{sales}" in figures
        assert euros(revenue / sales) in figures
        assert "Chiffre d'affaires par produit" in text and "Couverture du stock" in text
        assert "%" in text and "," in text and " 2023" in text  # shares, decimals and dates in French
        assert "Données actualisées le " in text and "une seule fois" in text  # refreshed once: no alarm
        assert "Attention" not in text
        assert browser.evaluate("document.documentElement.lang") == "fr"
        assert "Powered by" not in text and "home" not in text.split()
        # the sales dynamics: the last 7 days of sales against the 7 before, then the week days
        assert "Dynamique des ventes" in text and "du 19 juin 2023 au 25 juin 2023 (7 jours)" in text
        comparison = browser.evaluate("document.getElementById('comparaison').innerText").translate(SPACES)
        for label in ("Chiffre d'affaires", "Unités vendues", "Ventes", "Panier moyen"):
            assert label in comparison
        assert "Jours de la semaine" in text and "lundi" in text and "dimanche" in text
        assert " 1 jours" not in text and " 0 jours" not in text
        assert "Exporter pour Excel" in text
        excel = browser.evaluate(
            "fetch(document.querySelector('a[href*=\"/-/excel/\"]').href).then(r => r.text())"
        )
        header, first = excel.splitlines()[:2]  # the daily sales: ';' between cells, decimal commas
        assert header.startswith("sale_date;") and "," in first and "." not in first.split(";", 1)[1], excel[
            :200
        ]
        assert outside(visit.requests) == []
        assert visit.console_errors == []
        browser.screenshot(screenshots(tmp_path) / "tableau_de_bord.png")

        chosen = browser.visit(f"{base}/tableau-de-bord?du=2023-06-12&au=2023-06-25").text.translate(SPACES)
        assert (
            "Période choisie : du 12 juin 2023 au 25 juin 2023 (14 jours), comparé au 29 mai 2023" in chosen
        )

        fiche_link = browser.evaluate("document.getElementById('lien-fiche').href")
        fiche = browser.visit(fiche_link)
        assert fiche_link == f"{base}/fiche-de-synthese"
        assert "Fiche synthèse des ventes" in fiche.text and "Dynamique des ventes" in fiche.text
        assert euros(revenue) in fiche.text.translate(SPACES)
        images = browser.evaluate("[...document.images].map(i => [i.getAttribute('src'), i.naturalWidth])")
        assert len(images) == 3 and all(width > 100 for _src, width in images), images
        assert outside(fiche.requests) == [] and fiche.console_errors == []
        browser.screenshot(screenshots(tmp_path) / "fiche_de_synthese.png")

        paris = browser.visit(f"{base}/tableau-de-bord?ville=Paris")
        assert "Paris" in paris.text and paris.console_errors == []

        table = browser.visit(f"{base}/warehouse/mart_sales_by_product")
        assert "Ventes par produit" in table.text and "49,99 €" in table.text.translate(SPACES)
        assert outside(table.requests) == []
        assert table.console_errors == []

        database = browser.visit(f"{base}/warehouse")
        assert "mart_revenue_total" in database.text and "dbt_build_horizon" not in database.text
    finally:
        browser.close()
