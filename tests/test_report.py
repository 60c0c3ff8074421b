"""What the client reads: French formatting, the synthesis sheet, the headline."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from helpers import ROOT, query, run_module, scalar

from report import fmt

PNG = b"\x89PNG\r\n\x1a\n"


def test_french_formatting() -> None:
    assert fmt.euros(5268.78) == "5\u202f268,78\u00a0€"
    assert fmt.euros(0.005) == "0,01\u00a0€"
    assert fmt.percent(0.318819) == "31,9\u00a0%"
    assert fmt.date("2023-05-27") == "27 mai 2023"
    assert fmt.date("2023-06-01") == "1er juin 2023"
    assert fmt.moment("2026-06-01T08:05:59.029Z") == "1er juin 2026 à 10 h 05"  # Paris, summer time
    assert fmt.number(None) == "-"


def test_french_plurals_signs_days_and_round_axis_values() -> None:
    assert [fmt.plural(n, "jour") for n in (0, 1, 1.5, 2, 171)] == [
        "0 jour",
        "1 jour",
        "2 jours",
        "2 jours",
        "171 jours",
    ]
    assert fmt.plural(3, "ligne modifiée", "lignes modifiées") == "3 lignes modifiées"
    assert fmt.signed_euros(430.0) == "+430,00\u00a0€" and fmt.signed_euros(-59.98) == "-59,98\u00a0€"
    assert fmt.signed_percent(None) == "-" and fmt.signed_percent(0.402) == "+40,2\u00a0%"
    # a sheet written at 0 h 30 in Paris (22 h 30 UTC the day before) is dated the Paris day
    assert fmt.paris_today(dt.datetime(2026, 6, 1, 22, 30, tzinfo=dt.UTC)) == dt.date(2026, 6, 2)
    assert fmt.nice_ticks(399.95) == [0, 100, 200, 300, 400]  # not 399,95 / 199,97
    assert fmt.nice_ticks(12_877_524.99) == [0, 5_000_000, 10_000_000, 15_000_000]
    assert fmt.nice_ticks(1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]


def test_help_texts_show_no_markup() -> None:
    for module in ("report", "report.headline", "docgen.profile", "bench.history"):
        text = run_module(module, "--help").stdout
        assert "``" not in text and ":func:" not in text, module


def test_synthesis_sheet_in_french_with_charts_and_the_marts_figures(
    demo_warehouse: Path, tmp_path: Path
) -> None:
    run_module("report", "--db", str(demo_warehouse), "--out", str(tmp_path))
    sheet = (tmp_path / "fiche_synthese.md").read_text(encoding="utf-8")
    total, units, count, first, last, orphans = query(
        demo_warehouse,
        "select total_revenue, total_units, sales_count, first_sale_date, last_sale_date, orphan_sales_count "
        "from mart_revenue_total",
    )[0]
    for text in ("# Fiche synthèse des ventes", "Chiffre d'affaires total", fmt.euros(total), fmt.number(units),
                 fmt.number(count), f"du {fmt.date(first)} au {fmt.date(last)}", "Ventes par produit",
                 "Ventes par ville", "Ventes par magasin", "Évolution dans le temps", "Couverture du stock"):  # fmt: skip
        assert text in sheet, text
    best_product = scalar(demo_warehouse, "select product_name from mart_sales_by_product where rank = 1")
    best_city = scalar(demo_warehouse, "select city from mart_sales_by_city where rank = 1")
    assert f"**{best_product}** réalise le plus gros chiffre d'affaires" in sheet and "rentable" not in sheet
    assert f"**{best_city}** mène les villes" in sheet
    assert re.search(r"Tendance (en hausse|en baisse|stable)", sheet)  # 75 days: a trend
    assert f"{fmt.number(orphans)} ventes citent un produit ou un magasin absent" in sheet
    assert "à partir des données chargées le" in sheet and "Sources :" in sheet
    store, city = query(demo_warehouse, "select store_id, city from mart_sales_by_store where rank = 1")[0]
    assert f"| 1 | Magasin {store} ({city}) |" in sheet
    # for a manager: no ISO timestamps, URLs or table and module names before the technical annex
    body, annex = sheet.split("### Annexe technique")
    assert not re.search(r"\d{4}-\d{2}-\d{2}|https?:|file:|`|mart_|fct_|python -m", body), body
    assert "Sources :" in annex and "mart_revenue_total" in annex
    for chart in ("ca_par_produit.png", "ca_par_ville.png", "ca_journalier.png"):
        assert f"(fiche_synthese/{chart})" in sheet
        data = (tmp_path / "fiche_synthese" / chart).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, chart


def test_a_short_period_is_not_called_a_trend() -> None:
    committed = (ROOT / "docs" / "fiche_synthese.md").read_text(encoding="utf-8")  # the client's 30 days
    assert "Tendance" not in committed and "trop peu de recul pour parler de tendance" in committed


def test_committed_synthesis_sheet_is_made_from_the_clients_data() -> None:
    sheet = (ROOT / "docs" / "fiche_synthese.md").read_text(encoding="utf-8")
    assert fmt.euros(5268.78) in sheet  # the client's snapshot: 30 sales, 122 units
    assert "du 27 mai 2023 au 25 juin 2023" in sheet
    for chart in ("ca_par_produit.png", "ca_par_ville.png", "ca_journalier.png"):
        assert (ROOT / "docs" / "fiche_synthese" / chart).read_bytes().startswith(PNG)


def test_headline(demo_warehouse: Path) -> None:
    out = run_module("report.headline", "--db", str(demo_warehouse)).stdout
    total = scalar(demo_warehouse, "select total_revenue from mart_revenue_total")
    assert fmt.euros(total) in out and "Meilleurs produits" in out  # French, French numbers
    sales = scalar(demo_warehouse, "select sales_count from mart_revenue_total")
    assert f"{fmt.number(sales)} ventes" in out and "sales" not in out and "revenue" not in out


def test_names_from_the_sheets_cannot_inject_markdown_or_html() -> None:
    hostile = "Bol | 0 | <img src=http://evil/x.png> ![a](http://evil/y.png) **gras**"
    escaped = fmt.md(hostile)
    assert re.search(r"(?<!\\)[|<>!*\[\]]", escaped) is None, escaped  # every one escaped
    assert "\n" not in fmt.md("ligne\n# titre")


def test_babel_gives_the_same_dates_but_not_the_same_rounding() -> None:
    """The decision of report.fmt: dates from Babel (the same text as the hand-written months,
    checked on every day of 31 years), numbers kept by hand (Babel rounds differently)."""
    from babel.numbers import format_currency

    months = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
              "novembre", "décembre")  # fmt: skip
    day = dt.date(2000, 1, 1)
    while day.year < 2031:
        by_hand = f"{'1er' if day.day == 1 else day.day} {months[day.month - 1]}"
        assert fmt.date(day) == f"{by_hand} {day.year}" and fmt.date(day, year=False) == by_hand
        day += dt.timedelta(days=1)
    assert format_currency(5268.78, "EUR", locale="fr_FR") == fmt.euros(5268.78)  # the same, mostly
    assert format_currency(2.675, "EUR", locale="fr_FR") == "2,68\u00a0€" != fmt.euros(2.675)  # not always
