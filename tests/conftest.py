"""Fixtures: a loopback feed server, a fresh warehouse path, a built demo warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import FeedServer, dbt, load

from loader.generate import generate


@pytest.fixture
def server() -> Iterator[FeedServer]:
    srv = FeedServer()
    yield srv
    srv.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.db"


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse built from generated feeds with every kind of anomaly, loaded and dbt-built."""
    work = tmp_path_factory.mktemp("demo")
    generate(work / "feeds", days=75, rows=6_000, duplicates=10, malformed=8, orphans=4, seed=11)
    db = work / "demo.db"
    load(db, work / "feeds")
    dbt(db, "build")
    return db
