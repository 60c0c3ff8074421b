"""The client's synthesis sheet ("fiche synthèse"), in French, with its charts.

``python -m report [--db PATH] [--out DIR]`` reads the marts and writes DIR/fiche_synthese.md
and three PNG charts in DIR/fiche_synthese/. Every sentence of the commentary is computed from
the numbers; nothing is written by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from loader.db import add_db_argument, read_only
from loader.errors import WarehouseUnavailable
from loader.helptext import plain

from . import fmt

CHART_DIR = "fiche_synthese"
SHEET_NAME = "fiche_synthese.md"
SHORT_PERIOD_DAYS = 60  # under two months of sales, a rise or a fall is not called a trend


@dataclass
class Marts:
    total: sqlite3.Row
    products: list[sqlite3.Row]
    cities: list[sqlite3.Row]
    stores: list[sqlite3.Row]
    daily: list[sqlite3.Row]
    runs: list[sqlite3.Row]
    corrections: dict[str, int]  # edit / deletion -> how many the sheet had
    comparison: list[sqlite3.Row]  # mart_sales_period_comparison: total, then products, then cities
    weekdays: list[sqlite3.Row]  # mart_sales_by_weekday, Monday first


def read_marts(con: sqlite3.Connection) -> Marts:
    con.row_factory = sqlite3.Row

    def rows(sql: str) -> list[sqlite3.Row]:
        return con.execute(sql).fetchall()

    total = con.execute("select * from mart_revenue_total").fetchone()
    if total is None or not total["sales_count"]:
        raise WarehouseUnavailable("no sales in the marts: run the loader and dbt build first")
    return Marts(
        total=total,
        products=rows("select * from mart_sales_by_product order by rank, product_id"),
        cities=rows("select * from mart_sales_by_city order by rank, city"),
        stores=rows("select * from mart_sales_by_store order by rank, store_id"),
        daily=rows("select * from mart_sales_daily order by sale_date"),
        runs=rows(
            "select feed, source, max(loaded_at) as loaded_at from loader_runs "
            "where status = 'loaded' group by feed, source order by feed"
        ),
        corrections=dict(
            con.execute(
                "select correction_type, count(*) from mart_sales_corrections group by correction_type"
            )
        ),
        comparison=rows(
            "select * from mart_sales_period_comparison order by "
            "case scope when 'total' then 0 when 'product' then 1 else 2 end, current_revenue desc, item_label"
        ),
        weekdays=rows("select * from mart_sales_by_weekday order by iso_day_of_week"),
    )


def trend(daily: list[sqlite3.Row]) -> tuple[float, float] | None:
    """Average daily revenue over the first and the second half of the period."""
    if len(daily) < 2:
        return None
    half = len(daily) // 2
    first = sum(r["revenue"] for r in daily[:half]) / half
    second = sum(r["revenue"] for r in daily[half:]) / (len(daily) - half)
    return first, second


def commentary(m: Marts) -> list[str]:
    """Short factual sentences computed from the marts."""
    sold = [p for p in m.products if p["units_sold"]]
    lines = []
    if sold:
        best, worst = sold[0], sold[-1]
        lines.append(
            f"**{fmt.md(best['product_name'])}** réalise le plus gros chiffre d'affaires : {fmt.euros(best['revenue'])}, "
            f"soit {fmt.percent(best['revenue_share'])} du chiffre d'affaires ; le plus faible est "
            f"**{fmt.md(worst['product_name'])}** ({fmt.euros(worst['revenue'])}, {fmt.percent(worst['revenue_share'])})."
        )
    unsold = [fmt.md(p["product_name"]) for p in m.products if not p["units_sold"]]
    if unsold:
        lines.append(f"Aucune vente sur la période pour : {', '.join(unsold)}.")
    if m.cities:
        best, worst = m.cities[0], m.cities[-1]
        lines.append(
            f"**{fmt.md(best['city'])}** mène les villes avec {fmt.euros(best['revenue'])} "
            f"({fmt.percent(best['revenue_share'])}) ; **{fmt.md(worst['city'])}** ferme la marche "
            f"({fmt.euros(worst['revenue'])}, {fmt.percent(worst['revenue_share'])})."
        )
        per_employee = max(m.cities, key=lambda c: c["revenue_per_employee"] or 0)
        lines.append(
            f"Meilleur chiffre d'affaires par salarié : **{fmt.md(per_employee['city'])}** "
            f"({fmt.euros(per_employee['revenue_per_employee'])} par salarié)."
        )
    halves = trend(m.daily)
    if halves:
        first, second = halves
        change = (second - first) / first if first else None
        moved = (
            f"le chiffre d'affaires quotidien moyen passe de {fmt.euros(first)} sur la première moitié de la "
            f"période à {fmt.euros(second)} sur la seconde"
            + (f" ({'+' if change > 0 else ''}{fmt.percent(change)})" if change is not None else "")
        )
        if len(m.daily) < SHORT_PERIOD_DAYS:
            lines.append(
                f"Sur une période courte ({fmt.number(len(m.daily))} jours de ventes), {moved} : c'est trop peu "
                "de recul pour parler de tendance (une semaine forte ou faible suffit à l'expliquer)."
            )
        else:
            direction = "en hausse" if second > first else "en baisse" if second < first else "stable"
            lines.append(f"Tendance {direction} : {moved}.")
    covered = [p for p in m.products if p["stock_cover_days"] is not None]
    if covered:
        tight = min(covered, key=lambda p: p["stock_cover_days"])
        lines.append(
            f"Stock le plus tendu : **{fmt.md(tight['product_name'])}**, {fmt.plural(tight['stock'], 'unité')} en stock, "
            f"soit {fmt.plural(tight['stock_cover_days'], 'jour')} de ventes au rythme observé."
        )
    orphans = m.total["orphan_sales_count"]
    if orphans:
        one = orphans < 2
        lines.append(
            f"{fmt.plural(orphans, 'vente')} {'cite' if one else 'citent'} un produit ou un magasin absent des "
            f"référentiels : {'elle est écartée' if one else 'elles sont écartées'} des chiffres ci-dessus et "
            f"{'listée' if one else 'listées'} à part dans l'entrepôt (voir l'annexe technique)."
        )
    edits, deletions = m.corrections.get("edit", 0), m.corrections.get("deletion", 0)
    if edits or deletions:
        lines.append(
            f"La feuille des ventes a été corrigée sur la période : {fmt.plural(edits, 'ligne modifiée', 'lignes modifiées')} "
            f"et {fmt.plural(deletions, 'supprimée')}. Les chiffres ci-dessus tiennent compte de ces "
            "corrections (une vente corrigée n'est comptée qu'une fois) ; le détail, avec la quantité avant "
            "et après chaque correction, est dans le tableau de bord."
        )
    return lines


def dynamics(m: Marts) -> list[str]:
    """The sales dynamics in a sentence or two: the last period against the one before, and the
    week-day pattern (from mart_sales_period_comparison and mart_sales_by_weekday)."""
    lines = []
    total = next((r for r in m.comparison if r["scope"] == "total"), None)
    if total is not None and total["previous_sales"]:
        movers = [r for r in m.comparison if r["scope"] == "product" and r["revenue_change"]]
        up = max(movers, key=lambda r: r["revenue_change"], default=None)
        down = min(movers, key=lambda r: r["revenue_change"], default=None)
        sentence = (
            f"Sur les {fmt.plural(total['period_days'], 'dernier jour', 'derniers jours')} "
            f"(du {fmt.date(total['current_start'])} au {fmt.date(total['current_end'])}), le chiffre d'affaires "
            f"est de {fmt.euros(total['current_revenue'])}, contre {fmt.euros(total['previous_revenue'])} sur les "
            f"{fmt.plural(total['period_days'], 'jour précédent', 'jours précédents')} "
            f"({fmt.signed_euros(total['revenue_change'])}, {fmt.signed_percent(total['revenue_change_share'])})."
        )
        if up is not None and up["revenue_change"] > 0:
            sentence += f" Plus forte hausse : **{fmt.md(up['item_label'])}** ({fmt.signed_euros(up['revenue_change'])})."
        if down is not None and down["revenue_change"] < 0:
            sentence += f" Plus forte baisse : **{fmt.md(down['item_label'])}** ({fmt.signed_euros(down['revenue_change'])})."
        lines.append(sentence)
    elif total is not None:
        lines.append(
            f"Moins de {fmt.plural(2 * total['period_days'], 'jour')} de ventes : pas encore de période précédente "
            "à laquelle comparer les derniers jours."
        )
    selling = [r for r in m.weekdays if r["day_count"]]
    if len(selling) >= 2:
        best = max(selling, key=lambda r: r["average_daily_revenue"] or 0)
        worst = min(selling, key=lambda r: r["average_daily_revenue"] or 0)
        lines.append(
            f"Au fil de la semaine, le {best['day_name_fr']} est le jour le plus fort "
            f"({fmt.euros(best['average_daily_revenue'])} de chiffre d'affaires en moyenne) et le "
            f"{worst['day_name_fr']} le plus faible ({fmt.euros(worst['average_daily_revenue'])})."
        )
    return lines


def charts(m: Marts, folder: Path) -> dict[str, str]:
    """Draw the three charts as PNG files; returns {key: file name}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.dates import DateFormatter
    from matplotlib.ticker import FuncFormatter

    folder.mkdir(parents=True, exist_ok=True)
    money = FuncFormatter(lambda v, _pos: fmt.euros(v).replace(",00", ""))
    files = {}

    fig, ax = plt.subplots(figsize=(8, 0.45 * len(m.products) + 1.5))
    products = list(reversed(m.products))
    bars = ax.barh([p["product_name"] for p in products], [p["revenue"] for p in products], color="#2b6cb0")
    ax.bar_label(bars, labels=[fmt.percent(p["revenue_share"]) for p in products], padding=3, fontsize=8)
    ax.set_title("Chiffre d'affaires par produit")
    ax.set_xlabel("Chiffre d'affaires (€)")
    ax.xaxis.set_major_formatter(money)
    ax.margins(x=0.15)
    fig.tight_layout()
    files["products"] = "ca_par_produit.png"
    save_chart(fig, folder / files["products"])
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4.5))
    bars = ax.bar([c["city"] for c in m.cities], [c["revenue"] for c in m.cities], color="#2f855a")
    ax.bar_label(bars, labels=[fmt.percent(c["revenue_share"]) for c in m.cities], padding=3, fontsize=8)
    ax.set_title("Chiffre d'affaires par ville")
    ax.set_ylabel("Chiffre d'affaires (€)")
    ax.yaxis.set_major_formatter(money)
    ax.margins(y=0.15)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    files["cities"] = "ca_par_ville.png"
    save_chart(fig, folder / files["cities"])
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 4.5))
    days = [dt.date.fromisoformat(r["sale_date"]) for r in m.daily]
    ax.bar(
        days, [r["revenue"] for r in m.daily], color="#a0aec0", label="Chiffre d'affaires du jour", width=0.9
    )
    ax.plot(days, [r["revenue_7d_avg"] for r in m.daily], color="#c53030", linewidth=2,
            label="Moyenne mobile sur 7 jours")  # fmt: skip
    ax.set_title("Chiffre d'affaires quotidien")
    ax.set_ylabel("Chiffre d'affaires (€)")
    ax.yaxis.set_major_formatter(money)
    ax.legend(loc="upper left")
    ax.xaxis.set_major_formatter(DateFormatter("%d/%m/%y"))
    fig.autofmt_xdate()
    fig.tight_layout()
    files["daily"] = "ca_journalier.png"
    save_chart(fig, folder / files["daily"])
    plt.close(fig)
    return files


def table(headers: list[str], rows: list[list[str]], align: str) -> list[str]:
    out = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|",
    ]
    out += ["| " + " | ".join(fmt.md(cell) for cell in row) + " |" for row in rows]
    return out


def render(
    m: Marts,
    files: dict[str, str],
    generated: dt.date,
    data_label: str | None = None,
    as_of: str | None = None,
) -> str:
    """The sheet as Markdown; ``as_of`` (UTC) stands for the load time when given (``make docs``)."""
    t = m.total
    loaded = as_of or max((r["loaded_at"] for r in m.runs if r["loaded_at"]), default=None)
    lines = [
        "# Fiche synthèse des ventes",
        "",
        f"*Fiche générée le {fmt.date(generated)} à partir des données chargées le {fmt.moment(loaded)}.*",
        "",
        *key_figures(t),
        "## En bref",
        "",
        *[f"- {sentence}" for sentence in commentary(m)],
        "",
        *product_section(m, files),
        *city_section(m, files),
        *store_section(m),
        *dynamics_section(m),
        "## Évolution dans le temps",
        "",
        f"![Chiffre d'affaires quotidien]({CHART_DIR}/{files['daily']})",
        "",
        *daily_section(m.daily),
        "",
        "Montants arrondis au centime à l'affichage uniquement. Les mêmes chiffres, tenus à jour, "
        "sont dans le tableau de bord, avec des filtres par période, ville et produit.",
        "",
        *annex(m, loaded, data_label),
    ]
    return "\n".join(lines)


def key_figures(t: sqlite3.Row) -> list[str]:
    """« Chiffres clés »: the headline figures as a two-column table."""
    return [
        "## Chiffres clés",
        "",
        *table(
            ["Indicateur", "Valeur"],
            [
                [
                    "Période couverte",
                    f"du {fmt.date(t['first_sale_date'])} au {fmt.date(t['last_sale_date'])}",
                ],
                ["Chiffre d'affaires total", fmt.euros(t["total_revenue"])],
                ["Unités vendues", fmt.number(t["total_units"])],
                ["Nombre de ventes", fmt.number(t["sales_count"])],
                ["Panier moyen (CA par vente)", fmt.euros(t["average_sale_value"])],
                ["Ventes écartées (produit ou magasin inconnu)", fmt.number(t["orphan_sales_count"])],
            ],
            "lr",
        ),
        "",
    ]


def product_section(m: Marts, files: dict[str, str]) -> list[str]:
    """« Ventes par produit »: the chart, then every product with its share, rank and stock cover."""
    return [
        "## Ventes par produit",
        "",
        f"![Chiffre d'affaires par produit]({CHART_DIR}/{files['products']})",
        "",
        *table(
            [
                "Rang",
                "Produit",
                "Référence",
                "Prix unitaire",
                "Unités",
                "Chiffre d'affaires",
                "Part",
                "Stock",
                "Couverture du stock",
            ],  # fmt: skip
            [
                [
                    str(p["rank"]),
                    p["product_name"],
                    p["product_id"],
                    fmt.euros(p["unit_price"]),
                    fmt.number(p["units_sold"]),
                    fmt.euros(p["revenue"]),
                    fmt.percent(p["revenue_share"]),
                    fmt.number(p["stock"]),
                    fmt.plural(p["stock_cover_days"], "jour") if p["stock_cover_days"] is not None else "-",
                ]
                for p in m.products
            ],  # fmt: skip
            "rllrrrrrr",
        ),
        "",
        "La couverture du stock est le nombre de jours de ventes que le stock actuel représente au rythme "
        "moyen observé sur la période.",
        "",
    ]


def city_section(m: Marts, files: dict[str, str]) -> list[str]:
    """« Ventes par ville »: the chart, then every city with its stores, staff and revenue per employee."""
    return [
        "## Ventes par ville",
        "",
        f"![Chiffre d'affaires par ville]({CHART_DIR}/{files['cities']})",
        "",
        *table(
            [
                "Rang",
                "Ville",
                "Magasins",
                "Salariés",
                "Unités",
                "Chiffre d'affaires",
                "Part",
                "CA par salarié",
            ],
            [
                [
                    str(c["rank"]),
                    c["city"],
                    fmt.number(c["store_count"]),
                    fmt.number(c["employees"]),
                    fmt.number(c["units_sold"]),
                    fmt.euros(c["revenue"]),
                    fmt.percent(c["revenue_share"]),
                    fmt.euros(c["revenue_per_employee"]),
                ]
                for c in m.cities
            ],  # fmt: skip
            "rlrrrrrr",
        ),
        "",
    ]


def store_section(m: Marts) -> list[str]:
    """« Ventes par magasin »: every store, ranked."""
    return [
        "## Ventes par magasin",
        "",
        *table(
            [
                "Rang",
                "Magasin",
                "Salariés",
                "Unités",
                "Chiffre d'affaires",
                "Part",
                "CA par salarié",
            ],
            [
                [
                    str(s["rank"]),
                    f"Magasin {s['store_id']} ({s['city']})" if s["city"] else f"Magasin {s['store_id']}",
                    fmt.number(s["employees"]),
                    fmt.number(s["units_sold"]),
                    fmt.euros(s["revenue"]),
                    fmt.percent(s["revenue_share"]),
                    fmt.euros(s["revenue_per_employee"]),
                ]
                for s in m.stores
            ],  # fmt: skip
            "rlrrrrr",
        ),
        "",
    ]


def annex(m: Marts, loaded: str | None, data_label: str | None) -> list[str]:
    """Where the figures come from, for the technical team: the only place with names of tables."""
    sources = data_label or "; ".join(f"{r['feed']} : `{r['source']}`" for r in m.runs)
    return [
        "---",
        "",
        "### Annexe technique",
        "",
        f"- Sources : {sources}.",
        f"- Dernier chargement (UTC) : {loaded or '-'}.",
        "- Chiffres calculés par le pipeline ventes-pme : tables `mart_revenue_total`, `mart_sales_by_product`, "
        "`mart_sales_by_city`, `mart_sales_by_store`, `mart_sales_daily`, `mart_sales_by_weekday`, `mart_sales_period_comparison`. Ventes écartées : `fct_sales_orphans` ; "
        "corrections de la feuille : `mart_sales_corrections`.",
        "",
    ]


def dynamics_section(m: Marts) -> list[str]:
    """« Dynamique des ventes »: the comparison of the last two periods, by product and by city,
    and the week-day pattern, each a table under the sentences of :func:`dynamics`."""
    out = ["## Dynamique des ventes", "", *[f"- {sentence}" for sentence in dynamics(m)], ""]
    total = next((r for r in m.comparison if r["scope"] == "total"), None)
    if total is not None and total["previous_sales"]:
        headers = ["", "Période précédente", "Période récente", "Écart", "Évolution"]
        for scope, title in (("product", "Produit"), ("city", "Ville")):
            rows = [r for r in m.comparison if r["scope"] == scope]
            out += table(
                [title, *headers[1:]],
                [
                    [
                        r["item_label"],
                        fmt.euros(r["previous_revenue"]),
                        fmt.euros(r["current_revenue"]),
                        fmt.signed_euros(r["revenue_change"]),
                        fmt.signed_percent(r["revenue_change_share"]),
                    ]
                    for r in rows
                ],
                "lrrrr",
            )
            out.append("")
        out += [
            f"Période récente : du {fmt.date(total['current_start'])} au {fmt.date(total['current_end'])} ; "
            f"période précédente : du {fmt.date(total['previous_start'])} au {fmt.date(total['previous_end'])}. "
            f"Panier moyen : {fmt.euros(total['previous_average_sale_value'])} puis "
            f"{fmt.euros(total['current_average_sale_value'])}.",
            "",
        ]
    if m.weekdays:
        out += table(
            ["Jour", "Jours dans la période", "Ventes", "Chiffre d'affaires", "CA moyen par jour", "Part"],
            [
                [
                    r["day_name_fr"],
                    fmt.number(r["day_count"]),
                    fmt.number(r["sales_count"]),
                    fmt.euros(r["revenue"]),
                    fmt.euros(r["average_daily_revenue"]),
                    fmt.percent(r["revenue_share"]),
                ]
                for r in m.weekdays
            ],
            "lrrrrr",
        )
        out.append("")
    return out


def daily_section(daily: list[sqlite3.Row]) -> list[str]:
    """The daily table when the period is short; weekly totals otherwise."""
    if len(daily) <= 45:
        return table(
            ["Date", "Jour", "Ventes", "Unités", "Chiffre d'affaires", "Moyenne 7 jours"],
            [
                [
                    fmt.date(r["sale_date"]),
                    r["day_name_fr"],
                    fmt.number(r["sales_count"]),
                    fmt.number(r["units_sold"]),
                    fmt.euros(r["revenue"]),
                    fmt.euros(r["revenue_7d_avg"]),
                ]
                for r in daily
            ],  # fmt: skip
            "llrrrr",
        )
    weeks: dict[str, list[sqlite3.Row]] = {}
    for r in daily:
        day = dt.date.fromisoformat(r["sale_date"])
        weeks.setdefault((day - dt.timedelta(days=day.weekday())).isoformat(), []).append(r)
    return table(
        ["Semaine du", "Ventes", "Unités", "Chiffre d'affaires"],
        [
            [
                fmt.date(week),
                fmt.number(sum(r["sales_count"] for r in rows)),
                fmt.number(sum(r["units_sold"] for r in rows)),
                fmt.euros(sum(r["revenue"] for r in rows)),
            ]
            for week, rows in weeks.items()
        ],  # fmt: skip
        "lrrr",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m report", description=plain(__doc__))
    add_db_argument(parser, "the built warehouse, read-only")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="folder for fiche_synthese.md (docs)")
    parser.add_argument("--data-label", help="what the data is, in French (default: the sources loaded)")
    parser.add_argument(
        "--as-of", help="UTC time shown for the generation and the load (default: the real ones)"
    )
    args = parser.parse_args(argv)
    generated = dt.date.fromisoformat(args.as_of[:10]) if args.as_of else fmt.paris_today()
    try:
        sheet = write_sheet(args.db, args.out, generated, args.data_label, args.as_of)
    except WarehouseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {sheet} and its charts in {args.out / CHART_DIR}")
    return 0


def save_chart(fig, path: Path) -> None:
    """Written to a hidden temporary name, then renamed: a reader (the storage service, the
    sheet) never sees a 0-byte or half-written image, whatever stops the write (a full disk,
    a signal); a failed write leaves the previous image in place."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        fig.savefig(partial, dpi=110, format="png")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def write_sheet(
    db: str | Path, out: Path, generated: dt.date, data_label: str | None = None, as_of: str | None = None
) -> Path:
    """Write out/fiche_synthese.md and its charts from the built warehouse ``db``.

    The sheet is written to a temporary name and renamed: a reader never sees half a sheet.
    """
    with read_only(db, "run the loader and dbt build first") as con:
        marts = read_marts(con)
    files = charts(marts, out / CHART_DIR)
    sheet = out / SHEET_NAME
    partial = sheet.with_suffix(".md.partial")
    partial.write_text(render(marts, files, generated, data_label, as_of), encoding="utf-8")
    partial.replace(sheet)
    return sheet
