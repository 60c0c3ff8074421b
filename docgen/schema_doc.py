"""Generate docs/database.md, the database schema, from the built warehouse and the dbt manifest.

``python -m docgen.schema_doc [--db PATH] [--manifest FILE] [--out FILE]``

Every table and view of the warehouse is listed with its columns, keys (primary keys and
unique indexes read from SQLite) and relationships (the loader's foreign keys, and the dbt
`relationships` tests from the manifest), as a Mermaid ER diagram and as Graphviz DOT,
rendered to SVG when the `dot` command is installed (apt-get install graphviz). It is
generated, not drawn, so it cannot go stale: a test checks that every dbt model appears.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from loader.db import add_db_argument, read_only
from loader.errors import WarehouseUnavailable
from loader.helptext import plain

LAYERS = (
    ("loader (raw and audit)", lambda n: n.startswith(("raw_", "loader_", "sales_snapshot", "snapshot_"))),
    ("refresh service", lambda n: n.startswith("pipeline_")),
    ("staging", lambda n: n.startswith("stg_")),
    ("dimensions", lambda n: n.startswith("dim_")),
    ("facts", lambda n: n.startswith("fct_")),
    ("intermediate", lambda n: n.startswith("int_")),
    ("marts", lambda n: n.startswith("mart_")),
    ("dbt bookkeeping", lambda n: n.startswith("dbt_")),
    ("other", lambda n: True),  # a table no layer claims is still drawn, never a bare label
)
# The Mermaid diagrams: one per group of layers, so that a diagram is not one row of 30 tables
MERMAID_GROUPS = (
    ("What the loader stores", ("loader (raw and audit)", "refresh service")),
    ("The star schema and the marts", ("dimensions", "facts", "marts")),
    (
        "Staging and intermediate models, dbt's bookkeeping",
        ("staging", "intermediate", "dbt bookkeeping", "other"),
    ),
)
COLOURS = {
    "loader (raw and audit)": "#fde68a",
    "staging": "#e5e7eb",
    "dimensions": "#bfdbfe",
    "facts": "#fecaca",
    "intermediate": "#ddd6fe",
    "marts": "#bbf7d0",
    "dbt bookkeeping": "#f5f5f4",
    "refresh service": "#fed7aa",
    "other": "#ffffff",
}


@dataclass
class Table:
    name: str
    kind: str  # table | view
    columns: list[tuple[str, str]]  # (name, type)
    keys: set[str] = field(default_factory=set)  # primary key / unique columns
    description: str = ""


@dataclass(frozen=True)
class Link:
    child: str
    column: str
    parent: str
    parent_column: str
    origin: str  # "foreign key" | "dbt test"


def layer(name: str) -> str:
    return next((label for label, match in LAYERS if match(name)), "other")


def read_tables(con: sqlite3.Connection) -> dict[str, Table]:
    tables = {}
    for name, kind in con.execute(
        "select name, type from sqlite_master where type in ('table', 'view') and name not like 'sqlite_%' order by name"
    ):
        columns = [
            (r[1], (r[2] or "any").lower().split("(")[0].replace(" ", "_"))
            for r in con.execute(f'pragma table_info("{name}")')
        ]
        keys = {r[1] for r in con.execute(f'pragma table_info("{name}")') if r[5]}
        for index in con.execute(f'pragma index_list("{name}")'):
            if index[2]:  # unique
                cols = [r[2] for r in con.execute(f'pragma index_info("{index[1]}")')]
                if len(cols) == 1:
                    keys.update(cols)
        tables[name] = Table(name, kind, columns, keys)
    return tables


def lineage(manifest: dict, tables: dict[str, Table]) -> list[tuple[str, str]]:
    """(parent, model) pairs from the dbt manifest: used only to lay the layers out left to right."""
    names = {
        uid: n["name"] for uid, n in {**manifest.get("nodes", {}), **manifest.get("sources", {})}.items()
    }
    pairs = set()
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") == "model" and node["name"] in tables:
            for parent in node.get("depends_on", {}).get("nodes", []):
                if names.get(parent) in tables:
                    pairs.add((names[parent], node["name"]))
    return sorted(pairs)


def read_links(con: sqlite3.Connection, tables: dict[str, Table], manifest: dict) -> list[Link]:
    links = set()
    for name in tables:
        for fk in con.execute(f'pragma foreign_key_list("{name}")'):
            links.add(Link(name, fk[3], fk[2], fk[4], "foreign key"))
    nodes = manifest.get("nodes", {})
    for node in nodes.values():
        meta = node.get("test_metadata") or {}
        if node.get("resource_type") != "test" or meta.get("name") != "relationships":
            continue
        kwargs = meta.get("kwargs", {})
        attached = nodes.get(node.get("attached_node") or "", {}).get("name")
        parent = kwargs.get("to", "").split("'")[1] if "'" in kwargs.get("to", "") else None
        if attached and parent and node.get("column_name"):
            links.add(Link(attached, node["column_name"], parent, kwargs.get("field", ""), "dbt test"))
    for node in nodes.values():
        if node.get("resource_type") == "model" and node["name"] in tables:
            tables[node["name"]].description = " ".join(node.get("description", "").split())
    return sorted(links, key=lambda link: (link.child, link.column))


def mermaid(tables: dict[str, Table], links: list[Link]) -> str:
    lines = ["erDiagram"]
    for table in tables.values():
        lines.append(f"    {table.name} {{")
        for column, kind in table.columns:
            key = " PK" if column in table.keys else ""
            if any(link.child == table.name and link.column == column for link in links):
                key = " FK" if not key else " PK, FK"
            lines.append(f"        {kind} {column}{key}")
        lines.append("    }")
    for link in links:
        lines.append(f'    {link.parent} ||--o{{ {link.child} : "{link.column}"')
    return "\n".join(lines)


def dot(tables: dict[str, Table], links: list[Link], flow: list[tuple[str, str]]) -> str:
    out = [
        "digraph warehouse {",
        '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, nodesep=0.3, ranksep=1.2];',
        '  node [shape=plaintext, fontname="Helvetica", fontsize=9];',
        '  edge [color="#6b7280", arrowsize=0.6];',
    ]
    for index, (label, _match) in enumerate(LAYERS):
        members = [t for t in tables.values() if layer(t.name) == label]
        if not members:
            continue
        out.append(f'  subgraph cluster_{index} {{ label="{label}"; style=rounded; color="#9ca3af";')
        for table in members:
            rows = "".join(
                f'<tr><td align="left">{"<b>" if c in table.keys else ""}{c}{"</b>" if c in table.keys else ""}'
                f'</td><td align="left"><font color="#6b7280">{k}</font></td></tr>'
                for c, k in table.columns
            )
            out.append(
                f'    {table.name} [label=<<table border="0" cellborder="1" cellspacing="0" cellpadding="2">'
                f'<tr><td colspan="2" bgcolor="{COLOURS[label]}"><b>{table.name}</b> ({table.kind})</td></tr>'
                f"{rows}</table>>];"
            )
        out.append("  }")
    for link in links:
        style = "solid" if link.origin == "foreign key" else "dashed"
        out.append(f'  {link.parent} -> {link.child} [style={style}, tooltip="{link.child}.{link.column}"];')
    for parent, child in flow:  # dbt lineage: invisible, it only orders the layers left to right
        out.append(f"  {parent} -> {child} [style=invis, weight=2];")
    out.append("}")
    return "\n".join(out)


def render(tables: dict[str, Table], links: list[Link], image: str | None) -> str:
    out = [
        "# Database schema",
        "",
        "Generated by `python -m docgen.schema_doc` from the built warehouse and the dbt manifest "
        "(`make docs` regenerates it): do not edit by hand.",
        "",
        "Keys are primary keys and unique indexes read from SQLite (dbt models get theirs from post-hooks); "
        "relationships are the loader's foreign keys and the dbt `relationships` tests.",
        "",
    ]
    if image:
        out += [f"![Database schema]({image})", ""]
    for title, labels in MERMAID_GROUPS:
        members = {name: t for name, t in tables.items() if layer(name) in labels}
        inside = [k for k in links if k.parent in members and k.child in members]
        out += [f"### {title}", "", "```mermaid", mermaid(members, inside), "```", ""]
    for label, _match in LAYERS:
        members = [t for t in tables.values() if layer(t.name) == label]
        if not members:
            continue
        out += [f"## {label}", "", "| table | kind | key | columns | description |", "|---|---|---|---|---|"]
        for t in members:
            keys = ", ".join(sorted(t.keys)) or "-"
            out.append(
                f"| `{t.name}` | {t.kind} | {keys} | {', '.join(c for c, _k in t.columns)} | {t.description} |"
            )
        out.append("")
    out += ["## Relationships", "", "| from | to | declared by |", "|---|---|---|"]
    out += [f"| `{k.child}.{k.column}` | `{k.parent}.{k.parent_column}` | {k.origin} |" for k in links]
    out.append("")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m docgen.schema_doc", description=plain(__doc__.splitlines()[0])
    )
    add_db_argument(parser, "the built warehouse, read-only")
    parser.add_argument("--manifest", type=Path, default=Path("target/manifest.json"))
    parser.add_argument("--out", type=Path, default=Path("docs/database.md"))
    args = parser.parse_args(argv)
    if not args.manifest.is_file():
        print(f"error: no dbt manifest at {args.manifest}: run dbt build first", file=sys.stderr)
        return 1
    manifest = json.loads(args.manifest.read_text())
    try:
        with read_only(args.db, "run the loader and dbt build first") as con:
            tables = read_tables(con)
            links = read_links(con, tables, manifest)
    except WarehouseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    source = args.out.with_suffix(".dot")
    source.write_text(dot(tables, links, lineage(manifest, tables)) + "\n", encoding="utf-8")
    svg = args.out.with_suffix(".svg")
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg", str(source), "-o", str(svg)], check=True)
    else:
        print(
            f"note: Graphviz `dot` not found (apt-get install graphviz): wrote {source.name}; "
            + (f"{svg.name} kept as it was" if svg.exists() else "no image"),
            file=sys.stderr,
        )
    image = svg.name if svg.exists() else None
    args.out.write_text(render(tables, links, image), encoding="utf-8")
    print(f"wrote {args.out} ({len(tables)} tables and views, {len(links)} relationships)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
