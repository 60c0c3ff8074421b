"""Datasette plugin: every table as a CSV file French Excel opens as it is.

Datasette's CSV is comma-separated with decimal points: French Excel (its list separator is
``;``, its decimal mark ``,``) opens it as one column, or reads 49.90 as a date. This export,
``/-/excel/<database>/<table>.csv``, writes ``;`` between cells, decimal commas, a UTF-8 byte
order mark (without it Excel reads UTF-8 as cp1252: « Théière » becomes « ThÃ©iÃ¨re ») and
CRLF line ends, every text cell through the formula guard (``csv_formula_guard.neutralise``).
It is linked from every table page (the table's actions) and from the dashboard. At most
1,048,575 rows, Excel's limit: a larger table says so in its last line.
"""

from __future__ import annotations

import csv
import io

from datasette import hookimpl
from datasette.utils.asgi import Response

from datasette_plugins.csv_formula_guard import neutralise

EXCEL_ROWS = 1_048_575  # Excel's rows, less the header


def excel_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value).replace(".", ",")  # the shortest exact text: 5268.78, never 5268.779999
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} octets>"
    return neutralise(str(value))


def excel_csv(columns: list[str], rows: list[tuple], truncated: bool) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([neutralise(c) for c in columns])
    for row in rows:
        writer.writerow([excel_cell(v) for v in row])
    if truncated:
        writer.writerow(
            [f"(plus de {EXCEL_ROWS:,} lignes : la suite n'est pas exportée, Excel ne l'ouvrirait pas)"]
        )
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


async def excel_export(datasette, request) -> Response:
    database, table = request.url_vars["database"], request.url_vars["table"]
    try:
        db = datasette.get_database(database)
    except KeyError:
        return Response.text(f"Base inconnue : {database}", status=404)
    if table not in await db.table_names() and table not in await db.view_names():
        return Response.text(f"Table inconnue : {table}", status=404)

    def read(conn):
        cursor = conn.execute(f'select * from "{table}"')
        rows = cursor.fetchmany(EXCEL_ROWS + 1)
        return [d[0] for d in cursor.description], rows

    columns, rows = await db.execute_fn(read)
    body = excel_csv(columns, rows[:EXCEL_ROWS], truncated=len(rows) > EXCEL_ROWS)
    return Response(
        body,
        content_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{table}-excel.csv"'},
    )


@hookimpl
def register_routes(datasette):
    return [(r"^/-/excel/(?P<database>[^/]+)/(?P<table>[^/]+)\.csv$", excel_export)]


@hookimpl
def table_actions(datasette, actor, database, table):
    return [
        {
            "href": datasette.urls.path(f"/-/excel/{database}/{table}.csv"),
            "label": "Exporter pour Excel (CSV français : « ; », virgule décimale)",
        }
    ]
