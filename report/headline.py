"""Print the headline results from the marts: ``python -m report.headline [--db PATH]``."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence

from loader.db import add_db_argument, read_only
from loader.errors import WarehouseUnavailable
from loader.helptext import plain

from . import fmt


def headline(con: sqlite3.Connection) -> str:
    """The key figures in French, formatted as the client reads them (« 12 877 524,99 € »)."""
    con.row_factory = sqlite3.Row
    total = con.execute("select * from mart_revenue_total").fetchone()
    if total is None or not total["sales_count"]:
        return "Aucune vente dans l'entrepôt : lancez le chargement (python -m loader), puis dbt build."
    products = con.execute("select * from mart_sales_by_product order by rank, product_id limit 3")
    cities = con.execute("select * from mart_sales_by_city order by rank, city")
    lines = [
        ("Période", f"du {fmt.date(total['first_sale_date'])} au {fmt.date(total['last_sale_date'])}"),
        ("Chiffre d'affaires", fmt.euros(total["total_revenue"])),
        (
            "Ventes / unités",
            f"{fmt.plural(total['sales_count'], 'vente')}, {fmt.plural(total['total_units'], 'unité')}",
        ),
        ("Panier moyen", fmt.euros(total["average_sale_value"])),
        (
            "Écartées",
            f"{fmt.plural(total['orphan_sales_count'], 'vente')} (produit ou magasin inconnu)",
        ),
        (
            "Meilleurs produits",
            ", ".join(f"{r['product_name']} {fmt.percent(r['revenue_share'])}" for r in products),
        ),
        ("Par ville", ", ".join(f"{r['city']} {fmt.percent(r['revenue_share'])}" for r in cities)),
    ]
    built = con.execute("select 1 from sqlite_master where name = 'mart_sales_period_comparison'").fetchone()
    recent = (
        built and con.execute("select * from mart_sales_period_comparison where scope = 'total'").fetchone()
    )
    if recent is not None and recent["previous_sales"]:
        lines.append(
            (
                "Dynamique",
                f"{fmt.euros(recent['current_revenue'])} sur les {fmt.plural(recent['period_days'], 'dernier jour', 'derniers jours')}, "
                f"{fmt.signed_percent(recent['revenue_change_share'])} sur la période précédente",
            )
        )
    width = max(len(label) for label, _ in lines) + 2
    return "\n".join(f"{label.ljust(width)}{value}" for label, value in lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m report.headline", description=plain(__doc__))
    add_db_argument(parser, "the built warehouse, read-only")
    args = parser.parse_args(argv)
    try:
        with read_only(args.db, "run the loader and dbt build first") as con:
            print(headline(con))
    except WarehouseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
