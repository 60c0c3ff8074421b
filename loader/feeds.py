"""What each client feed looks like: its columns, their French headers and its defaults.

Headers are matched after normalisation (case, accents, spacing and punctuation
ignored), so 'ID Référence produit', 'id reference produit' and 'ID_REFERENCE_PRODUIT'
all name the same column.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

CLIENT_SHEET = (
    "https://docs.google.com/spreadsheets/d/e/"
    "2PACX-1vSawI56WBC64foMT9pKCiY594fBZk9Lyj8_bxfgmq-8ck_jw1Z49qDeMatCWqBxehEVoM6U1zdYx73V/pub"
)


@dataclass(frozen=True)
class Column:
    name: str  # our English field name
    header: str  # the client's header, as published
    aliases: tuple[str, ...] = ()  # other accepted spellings (English exports, ...)


@dataclass(frozen=True)
class FeedSpec:
    name: str
    table: str
    columns: tuple[Column, ...]
    env_var: str
    default_url: str
    file_name: str  # name of the file in a folder of feeds (demo data, client snapshot)


SALES = FeedSpec(
    name="sales",
    table="raw_sales",
    columns=(
        Column("date", "Date", ("sale date",)),
        Column("product_ref", "ID Référence produit", ("product id", "product ref")),
        Column("quantity", "Quantité", ("quantity",)),
        Column("store_id", "ID Magasin", ("store id",)),
    ),
    env_var="LOADER_SALES_URL",
    default_url=f"{CLIENT_SHEET}?gid=760830694&single=true&output=csv",
    file_name="ventes.csv",
)

PRODUCTS = FeedSpec(
    name="products",
    table="raw_products",
    columns=(
        Column("name", "Nom", ("product name", "name")),
        Column("product_ref", "ID Référence produit", ("product id", "product ref")),
        Column("price", "Prix", ("price", "unit price")),
        Column("stock", "Stock"),
    ),
    env_var="LOADER_PRODUCTS_URL",
    default_url=f"{CLIENT_SHEET}?gid=0&single=true&output=csv",
    file_name="produits.csv",
)

STORES = FeedSpec(
    name="stores",
    table="raw_stores",
    columns=(
        Column("store_id", "ID Magasin", ("store id",)),
        Column("city", "Ville", ("city",)),
        Column("employees", "Nombre de salariés", ("employees", "staff")),
    ),
    env_var="LOADER_STORES_URL",
    default_url=f"{CLIENT_SHEET}?gid=714623615&single=true&output=csv",
    file_name="magasins.csv",
)

FEEDS: tuple[FeedSpec, ...] = (PRODUCTS, STORES, SALES)


class HeaderError(ValueError):
    """The header does not name the columns the feed needs."""


def normalise_header(text: str) -> str:
    """'ID Référence_produit ' -> 'id reference produit'."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", ascii_only.lower()).split())


def map_header(spec: FeedSpec, header: list[str], extra: dict[str, str] | None = None) -> dict[str, int]:
    """Return {field name: column index}; raise HeaderError naming what is missing.

    ``extra`` maps further field names to header names (e.g. a configured sale id column).
    Columns the feed does not need are ignored.
    """
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        positions.setdefault(normalise_header(name), index)
    wanted = [(c.name, (c.header, *c.aliases)) for c in spec.columns]
    wanted += [(field, (name,)) for field, name in (extra or {}).items()]
    mapping: dict[str, int] = {}
    missing: list[str] = []
    for field, names in wanted:
        found = next((positions[n] for n in map(normalise_header, names) if n in positions), None)
        if found is None:
            missing.append(names[0])
        else:
            mapping[field] = found
    if missing:
        got = ", ".join(repr(h) for h in header) or "nothing"
        raise HeaderError(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)} "
            f"in the {spec.name} feed (header has {got}); check that the URL points at the "
            f"{spec.name} sheet and that its columns were not renamed"
        )
    return mapping
