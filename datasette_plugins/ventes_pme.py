"""Datasette plugin: the French dashboard at ``/tableau-de-bord`` and French number cells.

Thin on purpose: the figures and charts are computed by :mod:`pipeline.dashboard` (tested
without a server), this file only wires them into Datasette. Settings come from the metadata's
``plugins.ventes-pme`` block, written by ``python -m pipeline serve``: which columns are money
(shown rounded to the cent, ``5 268,78 €``), shares (``31,9 %``) or decimals (one decimal), and
after how many seconds without a refresh the dashboard warns that the data is stale.
"""

from __future__ import annotations

import datetime as dt

from datasette import hookimpl
from datasette.utils.asgi import Response

from pipeline.dashboard import Filters, dashboard
from report import fmt

PLUGIN = "ventes-pme"


def _config(datasette) -> dict:
    return datasette.plugin_config(PLUGIN) or {}


async def tableau_de_bord(datasette, request) -> Response:
    config = _config(datasette)
    database = datasette.get_database()
    filters = Filters.from_args(request.args)
    page = await database.execute_fn(
        lambda con: dashboard(
            con, filters, float(config.get("stale_after_seconds", 180)), dt.datetime.now(dt.UTC)
        )
    )
    page["database"] = database.name
    html = await datasette.render_template("tableau_de_bord.html", page, request=request)
    return Response.html(html)


@hookimpl
def register_routes(datasette):
    return [(r"^/tableau-de-bord$", tableau_de_bord)]


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
