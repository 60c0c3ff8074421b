"""The client's three feeds, each declared once: everything else is derived from here.

A :class:`FeedSpec` names the feed's file, URL and raw table, and lists its columns in the
order the client publishes them. Each :class:`Column` carries the published French header
and the other spellings accepted, the typed column it lands in, the SQL type and the parser
of its values. The raw tables' DDL (``loader.db``), their insert statements
(``loader.versions``, ``loader.sales``), the demo generator's headers and file names, the
data profile and the test fixtures are all derived from these declarations, so adding a
column to a feed is a change here (plus its tests).

Headers are matched after normalisation (case, accents, spacing and punctuation ignored),
so 'ID Référence produit', 'id reference produit' and 'ID_REFERENCE_PRODUIT' all name the
same column.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

from .errors import HeaderError
from .values import Limits, parse_cents, parse_count, parse_identifier, parse_reference, parse_text

CLIENT_SHEET = (
    "https://docs.google.com/spreadsheets/d/e/"
    "2PACX-1vSawI56WBC64foMT9pKCiY594fBZk9Lyj8_bxfgmq-8ck_jw1Z49qDeMatCWqBxehEVoM6U1zdYx73V/pub"
)

SqlType = Literal["text", "integer", "real"]
# what a value is, which decides its parser: a date's day/month order is decided per file
# (loader.sales_parser.DateParser), so "date" has no context-free parser here
Kind = Literal["date", "text", "reference", "identifier", "count", "positive_count", "cents"]


@dataclass(frozen=True, kw_only=True)
class Column:
    name: str  # our English field name; its value as received lands in raw_<name>
    header: str  # the client's header, as published
    typed: str  # the column of the raw table holding the parsed value
    sql_type: SqlType
    kind: Kind
    label: str  # how error messages name the field ("product reference")
    aliases: tuple[str, ...] = ()  # other accepted spellings (English exports, ...)
    comment: str = ""  # what the typed column holds, written in the DDL
    maximum: str | None = None  # the Limits field bounding its values (max_quantity...)

    @property
    def raw(self) -> str:
        """The column holding the text exactly as received."""
        return f"raw_{self.name}"

    def parser(self, limits: Limits) -> Callable[[str], object]:
        """The strict parser of this column's values within ``limits``; raises InvalidValue."""
        ceiling = getattr(limits, self.maximum) if self.maximum else None
        parsers: dict[str, Callable[[str], object]] = {
            "text": partial(parse_text, what=self.label),
            "reference": partial(parse_reference, what=self.label),
            "identifier": partial(parse_identifier, what=self.label),
            "count": partial(parse_count, what=self.label, minimum=0, maximum=ceiling),
            "positive_count": partial(parse_count, what=self.label, minimum=1, maximum=ceiling),
            "cents": partial(parse_cents, maximum=limits.max_price),
        }
        if self.kind not in parsers:
            raise ValueError(f"a {self.kind} column is parsed with its file's context, not alone")
        return parsers[self.kind]


@dataclass(frozen=True)
class FeedSpec:
    name: str  # sales | products | stores: the CLI option, loader_runs.feed
    table: str  # the raw_ table it lands in
    columns: tuple[Column, ...]  # in the client's published order
    key: str  # the field naming one product / store (versioned feeds); first key field of a sale
    env_var: str
    default_url: str
    file_name: str  # name of the file in a folder of feeds (demo data, client snapshot)
    versioned: bool  # True: one row per content change of a key; False: one row per sale

    @property
    def header_line(self) -> str:
        """The header exactly as the client publishes it."""
        return ",".join(c.header for c in self.columns)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


# the keys that join the feeds: one declaration each, shared by the feeds that carry them
PRODUCT_REF = Column(
    name="product_ref",
    header="ID Référence produit",
    typed="product_ref",
    sql_type="text",
    kind="reference",
    label="product reference",
    aliases=("product id", "product ref"),
    comment="NFKC, invisible characters removed, spaces collapsed, upper case",
)
STORE_ID = Column(
    name="store_id",
    header="ID Magasin",
    typed="store_id",
    sql_type="text",
    kind="identifier",
    label="store id",
    aliases=("store id",),
    comment="as a product reference, whole numbers without leading zeros",
)

SALES = FeedSpec(
    name="sales",
    table="raw_sales",
    columns=(
        Column(
            name="date",
            header="Date",
            typed="sale_date",
            sql_type="text",
            kind="date",
            label="date",
            aliases=("sale date",),
            comment="parsed, ISO YYYY-MM-DD",
        ),
        PRODUCT_REF,
        Column(
            name="quantity",
            header="Quantité",
            typed="quantity",
            sql_type="integer",
            kind="positive_count",
            label="quantity",
            aliases=("quantity",),
            comment="> 0",
            maximum="max_quantity",
        ),
        STORE_ID,
    ),
    key="date",
    env_var="LOADER_SALES_URL",
    default_url=f"{CLIENT_SHEET}?gid=760830694&single=true&output=csv",
    file_name="ventes.csv",
    versioned=False,
)

PRODUCTS = FeedSpec(
    name="products",
    table="raw_products",
    columns=(
        Column(
            name="name",
            header="Nom",
            typed="product_name",
            sql_type="text",
            kind="text",
            label="product name",
            aliases=("product name", "name"),
        ),
        PRODUCT_REF,
        Column(
            name="price",
            header="Prix",
            typed="price_cents",
            sql_type="integer",
            kind="cents",
            label="price",
            aliases=("price", "unit price"),
            comment=">= 0, in euro cents (exact sums)",
            maximum="max_price",
        ),
        Column(
            name="stock",
            header="Stock",
            typed="stock",
            sql_type="integer",
            kind="count",
            label="stock",
            aliases=(),
            comment=">= 0",
            maximum="max_stock",
        ),
    ),
    key="product_ref",
    env_var="LOADER_PRODUCTS_URL",
    default_url=f"{CLIENT_SHEET}?gid=0&single=true&output=csv",
    file_name="produits.csv",
    versioned=True,
)

STORES = FeedSpec(
    name="stores",
    table="raw_stores",
    columns=(
        STORE_ID,
        Column(
            name="city",
            header="Ville",
            typed="city",
            sql_type="text",
            kind="text",
            label="city",
            aliases=("city",),
        ),
        Column(
            name="employees",
            header="Nombre de salariés",
            typed="employees",
            sql_type="integer",
            kind="count",
            label="employees",
            aliases=("employees", "staff"),
            comment=">= 0",
            maximum="max_employees",
        ),
    ),
    key="store_id",
    env_var="LOADER_STORES_URL",
    default_url=f"{CLIENT_SHEET}?gid=714623615&single=true&output=csv",
    file_name="magasins.csv",
    versioned=True,
)

FEEDS: tuple[FeedSpec, ...] = (PRODUCTS, STORES, SALES)  # load order: references before sales
FEEDS_BY_NAME = {spec.name: spec for spec in FEEDS}


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
        shown = [repr(h[:40]) for h in header[:12]] + (["..."] if len(header) > 12 else [])
        got = ", ".join(shown) or "nothing"
        raise HeaderError(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)} "
            f"in the {spec.name} feed (header has {got}); check that the URL points at the "
            f"{spec.name} sheet and that its columns were not renamed"
        )
    return mapping
