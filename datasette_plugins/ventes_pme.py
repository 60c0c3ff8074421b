"""Datasette plugin: the French dashboard at ``/tableau-de-bord``, the synthesis sheet at
``/fiche-de-synthese`` and French number cells.

Thin on purpose: the figures and charts are computed by :mod:`pipeline.dashboard` (tested
without a server), this file only wires them into Datasette. Settings come from the metadata's
``plugins.ventes-pme`` block, written by ``python -m pipeline serve``: which columns are money
(shown rounded to the cent, ``5 268,78 €``), shares (``31,9 %``) or decimals (one decimal), and
after how many seconds without a refresh the dashboard warns that the data is stale, and the
folder where the refresh service writes the synthesis sheet (read at each request: always the
latest sheet).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import markdown
from datasette import hookimpl
from datasette.utils.asgi import Response

from pipeline.dashboard import Filters, dashboard
from report import fmt
from report.synthese import CHART_DIR, SHEET_NAME

PLUGIN = "ventes-pme"


def _config(datasette) -> dict:
    return datasette.plugin_config(PLUGIN) or {}


async def tableau_de_bord(datasette, request) -> Response:
    config = _config(datasette)
    database = datasette.get_database()
    filters = Filters.from_args(request.args)
    page = await database.execute_fn(
        lambda con: dashboard(
            con,
            filters,
            float(config.get("stale_after_seconds", 180)),
            dt.datetime.now(dt.UTC),
            bool(config.get("alerts_configured")),
        )
    )
    page["database"] = database.name
    html = await datasette.render_template("tableau_de_bord.html", page, request=request)
    return Response.html(html)


def _report_dir(datasette) -> Path | None:
    folder = _config(datasette).get("report_dir")
    return Path(folder) if folder else None


async def fiche_de_synthese(datasette, request) -> Response:
    """The latest synthesis sheet, rendered as a page with its charts."""
    folder = _report_dir(datasette)
    sheet = folder / SHEET_NAME if folder else None
    body = None
    if sheet is not None and sheet.is_file():
        # the sheet escapes every text from the client's sheets (report.fmt.md): nothing in it is raw HTML
        body = markdown.markdown(sheet.read_text(encoding="utf-8"), extensions=["tables"])
    html = await datasette.render_template(
        "fiche_de_synthese.html", {"sheet": body, "database": datasette.get_database().name}, request=request
    )
    return Response.html(html, status=200 if body else 404)


CHART = re.compile(r"^[a-z0-9_]+\.png$")


async def chart(datasette, request) -> Response:
    name = request.url_vars["name"]
    folder = _report_dir(datasette)
    path = folder / CHART_DIR / name if folder and CHART.match(name) else None
    if path is None or not path.is_file():
        return Response.text("graphique introuvable", status=404)
    return Response(path.read_bytes(), content_type="image/png", headers={"Cache-Control": "no-cache"})


@hookimpl
def register_routes(datasette):
    return [
        (r"^/tableau-de-bord$", tableau_de_bord),
        (r"^/fiche-de-synthese$", fiche_de_synthese),
        (rf"^/{CHART_DIR}/(?P<name>[^/]+)$", chart),
    ]


@hookimpl
def render_cell(value, column, table, database, datasette):
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    config = _config(datasette)
    if column in config.get("money", ()):
        return fmt.euros(value)
    if column in config.get("share", ()):
        return fmt.percent(value)
    if column in config.get("decimal", ()):
        return fmt.number(value, 1)
    return None
