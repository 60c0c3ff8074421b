"""Stand-ins for dbt's Jinja context, for SQLFluff's jinja templater (``.sqlfluff``).

SQLFluff renders the models without dbt (no database, no manifest: `make lint` stays fast);
it provides ref(), source(), config() and is_incremental() itself. These are the rest of
what our SQL uses. They only have to render to SQL that parses like the real thing: a
dispatched macro becomes a function call of the same name, a type its SQLite name.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace


def _call(name: str):
    def render(*args: object) -> str:
        return f"{name}({', '.join(str(a) for a in args)})"

    return render


# dispatched macros that render a whole query, not an expression
_QUERIES = {
    "every_day": lambda cte, bounds: f"select {bounds}.first_day as date_day from {bounds}",
    "sales_not_placed_once": lambda loaded, facts, orphans, events: f"select sale_id from {facts}",
}


class _Adapter:
    def dispatch(self, macro_name: str, macro_namespace: str | None = None):
        return _QUERIES.get(macro_name) or _call(macro_name)

    def quote(self, name: str) -> str:
        return f'"{name}"'


adapter = _Adapter()
dbt = SimpleNamespace(
    type_string=lambda: "text",
    type_int=lambda: "integer",
    type_numeric=lambda: "real",
    type_float=lambda: "float",
    concat=lambda parts: " || ".join(parts),
    dateadd=_call("dateadd"),
    datediff=_call("datediff"),
)
target = SimpleNamespace(schema="main", name="sqlite")
run_started_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
invocation_id = "00000000-0000-0000-0000-000000000000"
flags = SimpleNamespace(WHICH="build")


def var(name: str, default: object = None) -> object:
    """dbt's var(): the default (SQLFluff's own stand-in is not a number)."""
    return default
