"""Demo and test data: the client's three feeds, in exactly the client's format.

``python -m loader.generate --out DIR`` writes ventes.csv, produits.csv and magasins.csv
(French headers, CRLF, no final newline, as Google Sheets publishes them), with French
cities and product names, staff counts, prices and weekly/seasonal sales patterns.
The output depends only on the options and the seed.

``--append`` continues the sales feed of DIR with later days, as the live sheet grows;
``--duplicates``, ``--malformed`` and ``--orphans`` inject the anomalies the loader must
survive. Ten million lines take well under two minutes (bench: ``make bench``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from .feeds import PRODUCTS, SALES, STORES

CRLF = "\r\n"

CITIES = (
    "Paris", "Marseille", "Lyon", "Toulouse", "Nice", "Nantes", "Montpellier", "Strasbourg",
    "Bordeaux", "Lille", "Rennes", "Reims", "Toulon", "Grenoble", "Dijon", "Angers", "Nîmes",
    "Clermont-Ferrand", "Le Havre", "Saint-Étienne", "Brest", "Tours", "Amiens", "Limoges",
)  # fmt: skip

PRODUCT_NAMES = (
    ("Cafetière italienne", 34.9), ("Théière en fonte", 49.9), ("Moulin à poivre", 24.5),
    ("Planche à découper en chêne", 39.0), ("Couteau de chef", 89.0), ("Poêle en fonte", 59.9),
    ("Cocotte en fonte 24 cm", 129.0), ("Tablier en lin", 29.9), ("Bol en grès", 12.5),
    ("Verre à vin (lot de 6)", 42.0), ("Carafe en verre soufflé", 27.9), ("Nappe en coton", 45.0),
    ("Bougie parfumée", 19.9), ("Plaid en laine", 79.0), ("Coussin brodé", 34.0),
    ("Vase en céramique", 38.5), ("Panier en osier", 31.0), ("Savon de Marseille", 6.9),
    ("Huile d'olive AOP", 17.5), ("Miel de lavande", 11.9), ("Confiture artisanale", 7.5),
    ("Sel de Guérande", 5.9), ("Tasse en porcelaine", 14.9), ("Plateau en bambou", 22.0),
    ("Torchons (lot de 3)", 18.0), ("Ramequins (lot de 4)", 16.5), ("Saladier en olivier", 54.0),
    ("Presse-agrumes", 21.9), ("Boîte à thé", 15.5), ("Mug émaillé", 13.0),
)  # fmt: skip

WEEKDAY_FACTOR = (0.80, 0.85, 0.95, 0.95, 1.15, 1.55, 0.45)  # Monday..Sunday
MONTH_FACTOR = (1.10, 0.85, 0.90, 0.95, 1.00, 1.00, 0.85, 0.80, 0.95, 1.00, 1.20, 1.65)  # Jan..Dec
QUANTITY_WEIGHTS = (30, 25, 15, 10, 7, 5, 3, 2, 2, 1)  # quantities 1..10


@dataclass(frozen=True)
class Catalogue:
    products: list[tuple[str, str, float, int]]  # name, ref, price, stock
    stores: list[tuple[str, str, int]]  # id, city, employees


def make_catalogue(n_products: int, n_stores: int, rng: random.Random) -> Catalogue:
    products = []
    for i in range(n_products):
        name, base_price = PRODUCT_NAMES[i % len(PRODUCT_NAMES)]
        if i >= len(PRODUCT_NAMES):
            name = f"{name} modèle {i // len(PRODUCT_NAMES) + 1}"
        price = round(base_price * rng.uniform(0.9, 1.15), 1) - 0.01
        products.append((name, f"REF{i + 1:03d}", max(price, 0.99), rng.randrange(20, 400, 5)))
    stores = [(str(i + 1), CITIES[i % len(CITIES)], rng.randint(3, 25)) for i in range(n_stores)]
    return Catalogue(products, stores)


def daily_counts(start: dt.date, days: int, rows: int, rng: random.Random) -> list[int]:
    """Split ``rows`` over ``days`` following weekly and seasonal patterns, plus noise."""
    weights = []
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        noise = rng.uniform(0.85, 1.15)
        weights.append(WEEKDAY_FACTOR[day.weekday()] * MONTH_FACTOR[day.month - 1] * noise)
    total = sum(weights)
    exact = [rows * w / total for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(days), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: rows - sum(counts)]:
        counts[i] += 1
    return counts


def sales_lines(catalogue: Catalogue, start: dt.date, days: int, rows: int, rng: random.Random):
    """Yield blocks of sales lines (strings without line ends), one block per day."""
    refs = [p[1] for p in catalogue.products]
    product_cum = list(accumulate(1.0 / (rank + 1) ** 0.8 for rank in range(len(refs))))  # Zipf-like
    store_ids = [s[0] for s in catalogue.stores]
    store_cum = list(accumulate(float(s[2]) for s in catalogue.stores))  # busier where more staff
    qty_cum = list(accumulate(QUANTITY_WEIGHTS))
    for offset, count in enumerate(daily_counts(start, days, rows, rng)):
        if not count:
            continue
        day = (start + dt.timedelta(days=offset)).isoformat()
        products = rng.choices(refs, cum_weights=product_cum, k=count)
        stores = rng.choices(store_ids, cum_weights=store_cum, k=count)
        quantities = rng.choices(range(1, 11), cum_weights=qty_cum, k=count)
        yield [f"{day},{p},{q},{s}" for p, q, s in zip(products, quantities, stores, strict=True)]


MALFORMED = (
    "2023-13-45,{ref},2,{store}",  # impossible date
    "{day},{ref},deux,{store}",  # non-integer quantity
    "{day},{ref},-3,{store}",  # non-positive quantity
    "{day},{ref},0,{store}",
    "{day},,2,{store}",  # missing field
    "{day},{ref},2",  # wrong column count
    "{day},{ref},2,{store},extra",
    "pas une date,{ref},1,{store}",
)


def inject_anomalies(
    lines: list[str], catalogue: Catalogue, duplicates: int, malformed: int, orphans: int, rng: random.Random
) -> list[str]:
    """Return ``lines`` with identical duplicates, malformed lines and unknown references mixed in."""
    out = list(lines)
    if not out:
        return out
    day = out[0].split(",", 1)[0]
    ref, store = catalogue.products[0][1], catalogue.stores[0][0]
    for _ in range(duplicates):
        i = rng.randrange(len(out))
        out.insert(i + 1, out[i])  # an identical line right after the original: a second sale
    for k in range(malformed):
        out.insert(
            rng.randrange(len(out) + 1), MALFORMED[k % len(MALFORMED)].format(day=day, ref=ref, store=store)
        )
    for k in range(orphans):
        line = f"{day},REF9{k % 100:02d},1,{store}" if k % 2 == 0 else f"{day},{ref},1,9{k % 100:02d}"
        out.insert(rng.randrange(len(out) + 1), line)
    return out


def write_catalogue(out: Path, catalogue: Catalogue) -> None:
    products = [PRODUCTS.header_line] + [f"{n},{r},{p:.2f},{s}" for n, r, p, s in catalogue.products]
    stores = [STORES.header_line] + [f"{i},{c},{e}" for i, c, e in catalogue.stores]
    (out / PRODUCTS.file_name).write_text(CRLF.join(products), encoding="utf-8", newline="")
    (out / STORES.file_name).write_text(CRLF.join(stores), encoding="utf-8", newline="")


def read_catalogue(out: Path) -> Catalogue:
    def rows(name: str) -> list[list[str]]:
        text = (out / name).read_text(encoding="utf-8-sig")
        return [line.split(",") for line in text.splitlines()[1:] if line.strip()]

    products = [(n, r, float(p), int(s)) for n, r, p, s in rows(PRODUCTS.file_name)]
    stores = [(i, c, int(e)) for i, c, e in rows(STORES.file_name)]
    return Catalogue(products, stores)


def last_sale_date(path: Path) -> dt.date:
    """The date of the last line of a sales file, read from its end (the file may be huge)."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 4096))
        tail = handle.read().decode("utf-8", errors="replace")
    for line in reversed(tail.splitlines()):
        try:
            return dt.date.fromisoformat(line.split(",", 1)[0].strip())
        except ValueError:
            continue
    raise SystemExit(f"cannot find a last sale date in {path}: is it a sales feed?")


def generate(
    out: Path,
    *,
    days: int = 365,
    stores: int = 7,
    products: int = 20,
    rows: int = 50_000,
    seed: int = 42,
    start: dt.date = dt.date(2023, 1, 1),
    append: bool = False,
    duplicates: int = 0,
    malformed: int = 0,
    orphans: int = 0,
) -> dict[str, object]:
    """Write (or, with ``append``, extend) the three feeds in ``out``; returns a summary."""
    out.mkdir(parents=True, exist_ok=True)
    sales_path = out / SALES.file_name
    if append:
        if not sales_path.exists():
            raise SystemExit(f"--append: {sales_path} does not exist; generate it first")
        catalogue = read_catalogue(out)
        start = last_sale_date(sales_path) + dt.timedelta(days=1)
        rng = random.Random(f"{seed}:{start.isoformat()}")  # new days, new draws; still deterministic
    else:
        rng = random.Random(seed)
        catalogue = make_catalogue(products, stores, rng)
        write_catalogue(out, catalogue)
    blocks = sales_lines(catalogue, start, days, rows, rng)
    written = 0
    with sales_path.open("a" if append else "w", encoding="utf-8", newline="") as handle:
        first = not append or sales_path.stat().st_size == 0
        if first:
            handle.write(SALES.header_line)
        for i, block in enumerate(blocks):
            if i == 0 and (duplicates or malformed or orphans):
                block = inject_anomalies(block, catalogue, duplicates, malformed, orphans, rng)
            if block:
                handle.write(CRLF)
                handle.write(CRLF.join(block))
                written += len(block)
    return {
        "out": str(out),
        "first_day": start.isoformat(),
        "last_day": (start + dt.timedelta(days=days - 1)).isoformat(),
        "lines": written,
        "products": len(catalogue.products),
        "stores": len(catalogue.stores),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loader.generate",
        description="Write demo feeds (ventes.csv, produits.csv, magasins.csv) in the client's format.",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
    parser.add_argument("--days", type=int, default=365, help="days of sales (365)")
    parser.add_argument("--stores", type=int, default=7, help="number of stores (7)")
    parser.add_argument("--products", type=int, default=20, help="number of products (20)")
    parser.add_argument("--rows", type=int, default=50_000, help="sales lines to write (50000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed: same seed, same files (42)")
    parser.add_argument(
        "--start", type=dt.date.fromisoformat, default=dt.date(2023, 1, 1), help="first day, YYYY-MM-DD"
    )
    parser.add_argument(
        "--append",
        action="store_true",
        help="continue the existing ventes.csv in --out with --days later days (catalogue kept)",
    )
    parser.add_argument("--duplicates", type=int, default=0, help="identical duplicate lines to inject")
    parser.add_argument("--malformed", type=int, default=0, help="malformed lines to inject")
    parser.add_argument("--orphans", type=int, default=0, help="lines with unknown product/store to inject")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if min(args.days, args.stores, args.products) < 1 or args.rows < 0:
        raise SystemExit("--days, --stores and --products must be >= 1, --rows >= 0")
    summary = generate(
        args.out, days=args.days, stores=args.stores, products=args.products, rows=args.rows, seed=args.seed,
        start=args.start, append=args.append, duplicates=args.duplicates, malformed=args.malformed,
        orphans=args.orphans,
    )  # fmt: skip
    print(
        f"wrote {summary['lines']:,} sales lines ({summary['first_day']} .. {summary['last_day']}), "
        f"{summary['products']} products, {summary['stores']} stores to {summary['out']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
