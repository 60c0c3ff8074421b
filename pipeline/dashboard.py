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
    con: sqlite3.Connection,
    filters: Filters,
    stale_after: float,
    now: dt.datetime | None = None,
    alerts_configured: bool = False,
) -> dict:
    """Everything the page shows, formatted; ``ready`` is False until the marts exist."""
    con.row_factory = sqlite3.Row
    now = now or dt.datetime.now(dt.UTC)
    tables = {r[0] for r in con.execute("select name from sqlite_master where type in ('table', 'view')")}
    page: dict = {
        "filters": filters,
        "freshness": freshness(con, tables, stale_after, now, alerts_configured),
    }
    if not {"fct_sales_daily", "dim_products", "dim_stores", "mart_sales_by_product"} <= tables:
        return {**page, "ready": False}
    where, params = filters.where()
    joined = f"""from fct_sales_daily as d
                 inner join dim_stores as s on s.store_id = d.store_id
                 inner join dim_products as p on p.product_id = d.product_id
                 where {where}"""
    total = con.execute(
        f"""select coalesce(sum(d.revenue_cents), 0) / 100.0 as revenue, coalesce(sum(d.units_sold), 0) as units,
                   coalesce(sum(d.sales_count), 0) as sales, min(d.sale_date) as first, max(d.sale_date) as last
            {joined}""",
        params,
    ).fetchone()
    by_product = con.execute(
        f"select p.product_name as label, sum(d.revenue_cents) / 100.0 as revenue {joined} group by p.product_id order by 2 desc",
        params,
    ).fetchall()
    by_city = con.execute(
        f"select s.city as label, sum(d.revenue_cents) / 100.0 as revenue {joined} group by s.city order by 2 desc",
        params,
    ).fetchall()
    daily = con.execute(
        f"select d.sale_date as day, sum(d.revenue_cents) / 100.0 as revenue {joined} group by 1 order by 1",
        params,
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
        "comparison": comparison(con, filters, total["last"], tables),
        "weekdays": weekday_chart(con, filters, total["first"], total["last"]),
        "stock": stock_cover(con),
        "corrections": corrections(con, tables),
    }


def freshness(
    con: sqlite3.Connection,
    tables: set[str],
    stale_after: float,
    now: dt.datetime,
    alerts_configured: bool = False,
) -> dict:
    """When the data was last confirmed current, judged by the data's own refresh policy.

    Data kept current by the refresh service (``pipeline watch``) is stale past ``stale_after``:
    the page warns. Data refreshed once (``pipeline run``, ``make demo``) or loaded and built by
    hand has no schedule to miss: the page says when, and that nothing refreshes it, without an
    alarm. A failed last refresh is always said, with who knows about it.
    """
    last = failed = None
    live = False
    if "pipeline_runs" in tables:
        last = runs.last_success(con)
        latest = con.execute(
            "select command, outcome, error from pipeline_runs where finished_at is not null "
            "order by run_id desc limit 1"
        ).fetchone()
        failed = latest is not None and latest["outcome"] == "failed"
        live = latest is not None and latest["command"] == "watch"
    elif "loader_runs" in tables:  # loaded and built by hand, no refresh service yet
        last = con.execute("select max(finished_at) from loader_runs where status != 'failed'").fetchone()[0]
    if last is None:
        return {"text": "Les données n'ont jamais été actualisées.", "stale": live, "warning": None}
    age = runs.seconds_since(last, now)
    stale = live and age > stale_after
    text = f"Données actualisées le {fmt.moment(last)} (il y a {fmt.duration(age)})"
    text += "." if live else ", une seule fois : pas d'actualisation automatique de ces données."
    warning = None
    if stale:
        warning = f"Attention : les données n'ont pas été actualisées depuis {fmt.duration(age)}."
    if failed:
        warning = (warning + " " if warning else "") + (
            "La dernière actualisation a échoué ; l'équipe technique est prévenue."
            if alerts_configured
            else "La dernière actualisation a échoué : prévenez l'équipe technique."
        )
    return {"text": text, "stale": stale, "warning": warning}


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


def comparison_bounds(
    filters: Filters, last: str | None, default_days: int
) -> tuple[dt.date, dt.date, dt.date, dt.date] | None:
    """(start, end, previous start, previous end): the chosen period, or the last ``default_days``
    days of sales when none is chosen, and the period of the same length just before it."""
    end_text = filters.end or last
    if not end_text:
        return None
    end = dt.date.fromisoformat(end_text)
    start = (
        dt.date.fromisoformat(filters.start) if filters.start else end - dt.timedelta(days=default_days - 1)
    )
    if start > end:
        return None
    previous_end = start - dt.timedelta(days=1)
    return start, end, previous_end - (end - start), previous_end


def comparison(
    con: sqlite3.Connection,
    filters: Filters,
    last: str | None,
    tables: set[str] | frozenset[str] = frozenset(),
) -> dict | None:
    """The chosen period against the previous one of the same length: revenue, units, sales and
    average basket, then by product and by city (value, change in € and in %). Without a chosen
    period: the same default as ``mart_sales_period_comparison`` (its ``period_days``)."""
    # a warehouse built before this mart existed (the next build adds it): the mart's own default
    row = (
        con.execute("select max(period_days) from mart_sales_period_comparison").fetchone()
        if "mart_sales_period_comparison" in tables
        else None
    )
    bounds = comparison_bounds(filters, last, (row[0] if row else None) or 7)
    if bounds is None:
        return None
    start, end, previous_start, previous_end = bounds
    where, params = Filters(
        previous_start.isoformat(), end.isoformat(), filters.city, filters.product
    ).where()
    rows = con.execute(
        f"""select d.sale_date >= ? as is_current, p.product_name as product, s.city as city,
                   sum(d.revenue_cents) as revenue_cents, sum(d.units_sold) as units, sum(d.sales_count) as sales
            from fct_sales_daily as d
            inner join dim_stores as s on s.store_id = d.store_id
            inner join dim_products as p on p.product_id = d.product_id
            where {where}
            group by 1, d.product_id, s.city""",
        [start.isoformat(), *params],
    ).fetchall()

    def sums(key: str | None) -> dict:
        out: dict = {}
        for r in rows:  # money summed in whole cents (exact), shown in euros
            name = r[key] if key else "total"
            entry = out.setdefault(name, {True: [0, 0, 0], False: [0, 0, 0]})[bool(r["is_current"])]
            entry[0] += r["revenue_cents"] or 0
            entry[1] += r["units"] or 0
            entry[2] += r["sales"] or 0
        for sides in out.values():
            for entry in sides.values():
                entry[0] /= 100
        return out

    def change(current: float, previous: float, money: bool) -> tuple[str, str, str, str]:
        show = fmt.euros if money else fmt.number
        delta = current - previous
        signed = fmt.signed_euros(delta) if money else ("+" if delta > 0 else "") + fmt.number(delta)
        return (
            show(previous),
            show(current),
            signed,
            fmt.signed_percent(delta / previous if previous else None),
        )

    total = sums(None).get("total", {True: [0.0, 0, 0], False: [0.0, 0, 0]})
    (cur_rev, cur_units, cur_sales), (prev_rev, prev_units, prev_sales) = total[True], total[False]
    figures = [
        ("Chiffre d'affaires", *change(cur_rev, prev_rev, True)),
        ("Unités vendues", *change(cur_units, prev_units, False)),
        ("Ventes", *change(cur_sales, prev_sales, False)),
        (
            "Panier moyen",
            fmt.euros(prev_rev / prev_sales) if prev_sales else "-",
            fmt.euros(cur_rev / cur_sales) if cur_sales else "-",
            fmt.signed_euros(cur_rev / cur_sales - prev_rev / prev_sales)
            if cur_sales and prev_sales
            else "-",
            fmt.signed_percent(
                (cur_rev / cur_sales) / (prev_rev / prev_sales) - 1
                if cur_sales and prev_sales and prev_rev
                else None
            ),
        ),
    ]

    def breakdown(key: str) -> list[tuple[str, str, str, str, str]]:
        by = sums(key)
        ordered = sorted(by.items(), key=lambda kv: (-(kv[1][True][0] - kv[1][False][0]), kv[0] or ""))
        return [(name or "-", *change(v[True][0], v[False][0], True)) for name, v in ordered]

    days = (end - start).days + 1
    return {
        "title": f"du {fmt.date(start)} au {fmt.date(end)} ({fmt.plural(days, 'jour')}), comparé au "
        f"{fmt.date(previous_start)} – {fmt.date(previous_end)}",
        "chosen": bool(filters.start or filters.end),
        "current_label": "Période choisie" if filters.start or filters.end else "Période récente",
        "figures": figures,
        "by_product": breakdown("product"),
        "by_city": breakdown("city"),
        "has_previous": prev_sales > 0,
    }


def weekday_chart(con: sqlite3.Connection, filters: Filters, first: str | None, last: str | None) -> str:
    """Average revenue per calendar day of each day of the week over the filtered period (days
    without sales count as zero), as seven bars."""
    start, end = filters.start or first, filters.end or last
    if not start or not end or start > end:
        return '<p class="vide">Aucune vente pour ces filtres.</p>'
    where, params = filters.where()
    revenue = dict(
        con.execute(
            f"""select c.iso_day_of_week, sum(d.revenue_cents) / 100.0
                from fct_sales_daily as d
                inner join dim_stores as s on s.store_id = d.store_id
                inner join dim_dates as c on c.date_day = d.sale_date
                where {where}
                group by 1""",
            params,
        ).fetchall()
    )
    first_day, last_day = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    day_counts = [0] * 7
    for n in range((last_day - first_day).days + 1):
        day_counts[(first_day + dt.timedelta(days=n)).weekday()] += 1
    averages = [
        (name, (revenue.get(i + 1) or 0.0) / day_counts[i] if day_counts[i] else 0.0)
        for i, name in enumerate(WEEKDAYS)
    ]
    return column_chart(averages, "#6b46c1", "Chiffre d'affaires moyen par jour de la semaine")


WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def stock_cover(con: sqlite3.Connection) -> list[tuple[str, str, str]]:
    rows = con.execute(
        """select product_name, stock, stock_cover_days from mart_sales_by_product
           order by stock_cover_days is null, stock_cover_days, product_name"""
    )
    return [
        (
            r["product_name"],
            fmt.number(r["stock"]),
            "-" if r["stock_cover_days"] is None else fmt.plural(r["stock_cover_days"], "jour"),
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
    edits, deletions = counts.get("edit", 0), counts.get("deletion", 0)
    summary = (
        f"{fmt.plural(edits, 'ligne modifiée', 'lignes modifiées')} et {fmt.plural(deletions, 'supprimée')}"
    )
    return {"edits": edits, "deletions": deletions, "summary": summary, "lines": lines}


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


def column_chart(items: list[tuple[str, float]], color: str, title: str) -> str:
    """Vertical bars with their amount above, on a round value axis."""
    width, height, left, bottom = 900, 240, 90, 30  # the daily chart's width: the same scale on the page
    plot_w, plot_h = width - left - 10, height - bottom - 24
    ticks = fmt.nice_ticks(max((v for _, v in items), default=0) or 1)
    top = ticks[-1]
    step = plot_w / max(len(items), 1)

    def y(value: float) -> float:
        return 20 + plot_h * (1 - value / top)

    parts = [
        f'<svg class="chart" role="img" aria-label="{_e(title)}" viewBox="0 0 {width} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg"><title>{_e(title)}</title>'
    ]
    for value in ticks:
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#e2e8f0"/>'
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" class="axe">{_e(fmt.euros(value).replace(",00", ""))}</text>'
        )
    for i, (label, value) in enumerate(items):
        x = left + i * step + step * 0.15
        parts.append(
            f'<rect x="{x:.1f}" y="{y(value):.1f}" width="{step * 0.7:.1f}" height="{20 + plot_h - y(value):.1f}" '
            f'fill="{color}"><title>{_e(label)} : {_e(fmt.euros(value))}</title></rect>'
            f'<text x="{x + step * 0.35:.1f}" y="{y(value) - 4:.1f}" text-anchor="middle" class="axe">'
            f"{_e(fmt.euros(value).replace(',00', ''))}</text>"
            f'<text x="{x + step * 0.35:.1f}" y="{height - 8}" text-anchor="middle">{_e(label)}</text>'
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
    ticks = fmt.nice_ticks(top)
    top = ticks[-1]  # the axis ends on a round value above the highest bar
    for value in ticks:
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
