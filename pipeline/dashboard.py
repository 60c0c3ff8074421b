"""The managers' dashboard (« Tableau de bord »): what it shows, computed from the warehouse.

:func:`dashboard` takes a read-only connection and the page's filters and returns everything
the template (``datasette_site/templates/tableau_de_bord.html``) prints, already formatted in French
(``report.fmt``: ``5 268,78 €``, ``31,9 %``, ``1er juin 2023``). Charts are inline SVG drawn
here: no JavaScript, no CDN, nothing fetched by the browser but the page and Datasette's own
stylesheet, so the dashboard works offline and cannot break on a script error.

Figures come from ``fct_sales_daily`` (one row per day, product and store: small whatever the
number of sales), so the filters (period, city, product) apply to every figure of the page but
the stock cover (a property of the current stock, said on the page) and the sheet's corrections.
Client text (product names, cities) is escaped by Jinja in the template and by
:func:`html.escape` in the SVG.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from report import fmt
from report.synthese import SHORT_PERIOD_DAYS

from . import runs

DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Filters:
    start: str | None = None
    end: str | None = None
    city: str | None = None
    product: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        """The query string's du/au/ville/produit; a malformed date is ignored, not an error."""

        def day(name: str) -> str | None:
            value = (args.get(name) or "").strip()
            try:
                return dt.date.fromisoformat(value).isoformat() if DAY.match(value) else None
            except ValueError:
                return None

        def text(name: str) -> str | None:
            return (args.get(name) or "").strip()[:200] or None

        return cls(day("du"), day("au"), text("ville"), text("produit"))

    def where(self) -> tuple[str, list[str]]:
        clauses, params = ["1 = 1"], []
        for clause, value in (
            ("d.sale_date >= ?", self.start),
            ("d.sale_date <= ?", self.end),
            ("s.city = ?", self.city),
            ("d.product_id = ?", self.product),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return " and ".join(clauses), params


def dashboard(
    con: sqlite3.Connection, filters: Filters, stale_after: float, now: dt.datetime | None = None
) -> dict:
    """Everything the page shows, formatted; ``ready`` is False until the marts exist."""
    con.row_factory = sqlite3.Row
    now = now or dt.datetime.now(dt.UTC)
    tables = {r[0] for r in con.execute("select name from sqlite_master where type in ('table', 'view')")}
    page: dict = {"filters": filters, "freshness": freshness(con, tables, stale_after, now)}
    if not {"fct_sales_daily", "dim_products", "dim_stores", "mart_sales_by_product"} <= tables:
        return {**page, "ready": False}
    where, params = filters.where()
    joined = f"""from fct_sales_daily as d
                 inner join dim_stores as s on s.store_id = d.store_id
                 inner join dim_products as p on p.product_id = d.product_id
                 where {where}"""
    total = con.execute(
        f"""select coalesce(sum(d.revenue), 0) as revenue, coalesce(sum(d.units_sold), 0) as units,
                   coalesce(sum(d.sales_count), 0) as sales, min(d.sale_date) as first, max(d.sale_date) as last
            {joined}""",
        params,
    ).fetchone()
    by_product = con.execute(
        f"select p.product_name as label, sum(d.revenue) as revenue {joined} group by p.product_id order by 2 desc",
        params,
    ).fetchall()
    by_city = con.execute(
        f"select s.city as label, sum(d.revenue) as revenue {joined} group by s.city order by 2 desc", params
    ).fetchall()
    daily = con.execute(
        f"select d.sale_date as day, sum(d.revenue) as revenue {joined} group by 1 order by 1", params
    )
    days = fill_days(dict(daily.fetchall()), filters.start or total["first"], filters.end or total["last"])
    revenue = total["revenue"]
    return {
        **page,
        "ready": True,
        "choices": choices(con),
        "period": f"du {fmt.date(total['first'])} au {fmt.date(total['last'])}"
        if total["first"]
        else "aucune vente",
        "kpis": [
            ("Chiffre d'affaires", fmt.euros(revenue)),
            ("Unités vendues", fmt.number(total["units"])),
            ("Ventes", fmt.number(total["sales"])),
            ("Panier moyen", fmt.euros(revenue / total["sales"]) if total["sales"] else "-"),
        ],
        "by_product": bar_chart(
            [(r["label"], r["revenue"]) for r in by_product],
            revenue,
            "#2b6cb0",
            "Chiffre d'affaires par produit",
        ),
        "by_city": bar_chart(
            [(r["label"], r["revenue"]) for r in by_city], revenue, "#2f855a", "Chiffre d'affaires par ville"
        ),
        "daily": daily_chart(days),
        "daily_note": trend_note(days),
        "stock": stock_cover(con),
        "corrections": corrections(con, tables),
    }


def freshness(con: sqlite3.Connection, tables: set[str], stale_after: float, now: dt.datetime) -> dict:
    """When the data was last confirmed current, and whether that is too long ago."""
    last = failed = None
    if "pipeline_runs" in tables:
        last = runs.last_success(con)
        latest = con.execute(
            "select outcome, error from pipeline_runs where finished_at is not null order by run_id desc limit 1"
        ).fetchone()
        failed = latest["error"] if latest is not None and latest["outcome"] == "failed" else None
    elif "loader_runs" in tables:  # loaded and built by hand, no refresh service yet
        last = con.execute("select max(finished_at) from loader_runs where status != 'failed'").fetchone()[0]
    if last is None:
        return {
            "text": "jamais actualisées",
            "stale": True,
            "warning": "Les données n'ont jamais été actualisées.",
        }
    age = runs.seconds_since(last, now)
    stale = age > stale_after
    warning = None
    if stale:
        warning = f"Attention : les données n'ont pas été actualisées depuis {fmt.duration(age)}."
    if failed:
        warning = (
            warning + " " if warning else ""
        ) + "La dernière actualisation a échoué ; l'équipe technique est prévenue."
    return {"text": f"{fmt.moment(last)} (il y a {fmt.duration(age)})", "stale": stale, "warning": warning}


def choices(con: sqlite3.Connection) -> dict:
    return {
        "cities": [
            r[0]
            for r in con.execute("select distinct city from dim_stores where city is not null order by city")
        ],
        "products": [
            tuple(r)
            for r in con.execute("select product_id, product_name from dim_products order by product_name")
        ],
        "bounds": tuple(con.execute("select min(sale_date), max(sale_date) from fct_sales_daily").fetchone()),
    }


def fill_days(
    revenue_by_day: dict[str, float], first: str | None, last: str | None
) -> list[tuple[str, float, float]]:
    """(day, revenue, 7-day average) for every day of the period, days without sales at zero."""
    if not first or not last or first > last:
        return []
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    if (end - start).days > 3660:  # ten years of bars is not a chart: keep the last ten
        start = end - dt.timedelta(days=3660)
    values, out = [], []
    for n in range((end - start).days + 1):
        day = (start + dt.timedelta(days=n)).isoformat()
        values.append(revenue_by_day.get(day, 0.0) or 0.0)
        window = values[-7:]
        out.append((day, values[-1], sum(window) / len(window)))
    return out


def trend_note(days: list[tuple[str, float, float]]) -> str | None:
    if 0 < len(days) < SHORT_PERIOD_DAYS:
        span = f"{len(days)} jour{'s' if len(days) > 1 else ''}"
        return f"Période courte ({span}) : la moyenne sur 7 jours indique un rythme, pas une tendance."
    return None


def stock_cover(con: sqlite3.Connection) -> list[tuple[str, str, str]]:
    rows = con.execute(
        """select product_name, stock, stock_cover_days from mart_sales_by_product
           order by stock_cover_days is null, stock_cover_days, product_name"""
    )
    return [
        (
            r["product_name"],
            fmt.number(r["stock"]),
            "-" if r["stock_cover_days"] is None else f"{fmt.number(r['stock_cover_days'])} jours",
        )
        for r in rows
    ]


def corrections(con: sqlite3.Connection, tables: set[str], limit: int = 10) -> dict | None:
    if "mart_sales_corrections" not in tables:
        return None
    counts = dict(
        con.execute("select correction_type, count(*) from mart_sales_corrections group by 1").fetchall()
    )
    rows = con.execute(
        """select c.*, p.product_name, s.city from mart_sales_corrections as c
           left join dim_products as p on p.product_id = c.product_id
           left join dim_stores as s on s.store_id = c.store_id
           order by c.detected_at desc, c.correction_id limit ?""",
        (limit,),
    ).fetchall()
    lines = []
    for r in rows:
        store = f"magasin {r['store_id']}" + (f" ({r['city']})" if r["city"] else "")
        what = (
            f"quantité {fmt.number(r['quantity_before'])} → {fmt.number(r['quantity_after'])}"
            if r["correction_type"] == "edit"
            else "vente supprimée"
        )
        lines.append(
            (
                fmt.date(r["detected_at"]),
                fmt.date(r["sale_date"]),
                r["product_name"] or r["product_id"],
                store,
                what,
            )
        )
    return {"edits": counts.get("edit", 0), "deletions": counts.get("deletion", 0), "lines": lines}


# --- charts: inline SVG --------------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def bar_chart(items: list[tuple[str, float]], total: float, color: str, title: str) -> str:
    """Horizontal bars with the amount and the share of each item."""
    if not items:
        return '<p class="vide">Aucune vente pour ces filtres.</p>'
    row, label_w, bar_w = 26, 190, 380
    top = max(value or 0 for _, value in items) or 1
    height = row * len(items) + 8
    parts = [
        f'<svg class="chart" role="img" aria-label="{_e(title)}" viewBox="0 0 {label_w + bar_w + 190} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg"><title>{_e(title)}</title>'
    ]
    for i, (label, value) in enumerate(items):
        y = 4 + i * row
        width = max(1.0, bar_w * (value or 0) / top)
        share = fmt.percent(value / total) if total else "-"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end">{_e(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{width:.1f}" height="{row - 8}" fill="{color}"/>'
            f'<text x="{label_w + width + 6:.1f}" y="{y + 17}">{_e(fmt.euros(value))} · {_e(share)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def daily_chart(days: list[tuple[str, float, float]]) -> str:
    """Daily revenue as bars, its 7-day average as a line, French dates on the axis."""
    if not days:
        return '<p class="vide">Aucune vente pour ces filtres.</p>'
    width, height, left, bottom = 900, 260, 90, 30
    plot_w, plot_h = width - left - 10, height - bottom - 10
    top = max(max(r for _, r, _ in days), max(a for _, _, a in days)) or 1
    step = plot_w / len(days)

    def y(value: float) -> float:
        return 10 + plot_h * (1 - value / top)

    parts = [
        f'<svg class="chart" role="img" aria-label="Chiffre d\'affaires par jour" viewBox="0 0 {width} {height}" '
        'width="100%" xmlns="http://www.w3.org/2000/svg"><title>Chiffre d\'affaires par jour et moyenne sur 7 jours</title>'
    ]
    for fraction in (0, 0.5, 1):
        value = top * fraction
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#e2e8f0"/>'
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" class="axe">{_e(fmt.euros(value).replace(",00", ""))}</text>'
        )
    for i, (day, revenue, _) in enumerate(days):
        h = plot_h * revenue / top
        parts.append(
            f'<rect x="{left + i * step:.2f}" y="{10 + plot_h - h:.2f}" width="{max(step * 0.85, 0.5):.2f}" '
            f'height="{h:.2f}" fill="#a0aec0"><title>{_e(fmt.date(day))} : {_e(fmt.euros(revenue))}</title></rect>'
        )
    points = " ".join(f"{left + (i + 0.5) * step:.2f},{y(avg):.2f}" for i, (_, _, avg) in enumerate(days))
    parts.append(f'<polyline points="{points}" fill="none" stroke="#c53030" stroke-width="2"/>')
    for i in sorted({0, len(days) // 2, len(days) - 1}):
        anchor = "start" if i == 0 else "end" if i == len(days) - 1 else "middle"
        parts.append(
            f'<text x="{left + (i + 0.5) * step:.1f}" y="{height - 8}" text-anchor="{anchor}" class="axe">'
            f"{_e(fmt.date(days[i][0]))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
