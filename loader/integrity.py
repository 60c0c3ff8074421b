"""Is the warehouse file sound? Checked before anything writes to it.

A damaged page (a disk fault, a copy cut short, bytes written over the file) must stop every
writing command at the door: writing into a damaged b-tree can spread the damage, and a load
reported "loaded" into a file that cannot be read back is a promise broken. ``pragma
quick_check`` reads every page and checks the b-trees' structure (not the indexes' contents,
which ``integrity_check`` also compares, several times slower); its cost is measured in
docs/benchmarks.md. A damaged warehouse is refused with one line that names the two ways back.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .errors import NotAWarehouse, WarehouseDamaged

SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file


def not_a_warehouse(path: Path) -> str | None:
    """Why ``path`` cannot be a warehouse at all (a folder, a file of another kind), or None.

    Cheap (16 bytes read): every command checks it first, so that a wrong ``--db`` is one clear
    line, not "file is not a database" from deep inside a library.
    """
    path = Path(path)
    if path.is_dir():
        return f"--db {path} is a folder, not a SQLite file: give the warehouse file (for example {path / 'warehouse.db'})"
    if path.is_file():
        with path.open("rb") as handle:
            head = handle.read(16)
        if head and head != SQLITE_HEADER:
            return (
                f"--db {path} is not a SQLite database (it starts with {head[:12]!r}): check --db or "
                "WAREHOUSE_DB; if this file was the warehouse, it is damaged: restore a backup "
                "(python -m pipeline restore) or rebuild it (python -m pipeline rebuild)"
            )
    return None


def integrity_problem(path: Path, full: bool = True) -> str | None:
    """What ``pragma integrity_check`` (or the faster ``quick_check``) finds wrong, or None.

    Opened read-only: checking never writes to the file it checks.
    """
    if not Path(path).is_file():
        return f"no file at {path}"
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = con.execute("pragma integrity_check" if full else "pragma quick_check").fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    found = [r[0] for r in rows]
    return None if found == ["ok"] else "; ".join(found[:3])


def refuse_damaged(db: Path) -> None:
    """Raise :class:`NotAWarehouse` for a folder or a file of another kind, :class:`WarehouseDamaged`
    when ``db`` exists and fails ``pragma quick_check``."""
    wrong = not_a_warehouse(db)
    if wrong:
        raise NotAWarehouse(wrong)
    if not Path(db).exists():
        return  # a new warehouse: nothing to check
    problem = integrity_problem(db, full=False)
    if problem:
        raise WarehouseDamaged(
            f"the warehouse {db} is damaged ({problem[:200]}): nothing was written. Restore the latest "
            f"backup (python -m pipeline restore --from <backups>/<file>.db --db {db}) or rebuild it "
            f"from the landing archive (python -m pipeline rebuild --archive <archive> --db <new file>)"
        )
