"""Print the headline results from the marts: ``python -m report.headline [--db PATH]``."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence

from loader.db import WarehouseUnavailable, add_db_argument, read_only

from .fmt import euros


def headline(con: sqlite3.Connection) -> str:
    con.row_factory = sqlite3.Row
    total = con.execute("select * from mart_revenue_total").fetchone()
    if total is None or not total["sales_count"]:
        return "no sales in the warehouse yet: run the loader, then dbt build"
    lines = [
        f"period            {total['first_sale_date']} .. {total['last_sale_date']}",
        f"total revenue     {euros(total['total_revenue'])}",
        f"sales / units     {total['sales_count']:,} sales, {total['total_units']:,} units",
        f"average sale      {euros(total['average_sale_value'])}",
        f"kept aside        {total['orphan_sales_count']:,} sales with an unknown product or store",
        "top products      "
        + ", ".join(
            f"{r['product_name']} {r['revenue_share']:.1%}"
            for r in con.execute("select * from mart_sales_by_product order by rank, product_id limit 3")
        ),
        "by city           "
        + ", ".join(
            f"{r['city']} {r['revenue_share']:.1%}"
            for r in con.execute("select * from mart_sales_by_city order by rank, city")
        ),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m report.headline", description=__doc__)
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
