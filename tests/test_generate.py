"""The demo data generator: client format, determinism, append and anomalies."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

from helpers import CLIENT_DATA, ROOT

from loader.generate import generate


def test_files_have_the_clients_exact_format(tmp_path: Path) -> None:
    generate(tmp_path, days=30, rows=500)
    for name, header in (
        ("ventes.csv", "Date,ID Référence produit,Quantité,ID Magasin"),
        ("produits.csv", "Nom,ID Référence produit,Prix,Stock"),
        ("magasins.csv", "ID Magasin,Ville,Nombre de salariés"),
    ):
        raw = (tmp_path / name).read_bytes()
        assert raw.startswith(header.encode("utf-8") + b"\r\n"), name
        assert not raw.endswith(b"\n") and b"\n" not in raw.replace(b"\r\n", b""), name
        if CLIENT_DATA.is_dir():
            assert raw.split(b"\r\n")[0] == (CLIENT_DATA / name).read_bytes().split(b"\r\n")[0]
    lines = (tmp_path / "ventes.csv").read_bytes().decode().split("\r\n")[1:]
    assert len(lines) == 500
    dates = [dt.date.fromisoformat(line.split(",")[0]) for line in lines]
    assert dates == sorted(dates) and dates[0] >= dt.date(2023, 1, 1) and dates[-1] <= dt.date(2023, 1, 30)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        generate(tmp_path / name, days=20, rows=300, seed=seed)
    read = lambda n: (tmp_path / n / "ventes.csv").read_bytes()  # noqa: E731
    assert read("a") == read("b") != read("c")


def test_weekly_pattern_saturday_busier_than_sunday(tmp_path: Path) -> None:
    generate(tmp_path, days=364, rows=50_000)
    lines = (tmp_path / "ventes.csv").read_bytes().decode().split("\r\n")[1:]
    by_weekday = [0] * 7
    for line in lines:
        by_weekday[dt.date.fromisoformat(line[:10]).weekday()] += 1
    assert by_weekday[5] > 2 * by_weekday[6]


def test_append_continues_with_later_days_and_injects_anomalies(tmp_path: Path) -> None:
    generate(tmp_path, days=10, rows=1000)
    before = (tmp_path / "ventes.csv").read_bytes()
    summary = generate(tmp_path, days=5, rows=200, append=True, duplicates=3, malformed=8, orphans=4)
    after = (tmp_path / "ventes.csv").read_bytes()
    assert after.startswith(before + b"\r\n")
    assert summary["first_day"] == "2023-01-11" and summary["lines"] == 215
    new = after[len(before) + 2 :].decode().split("\r\n")
    assert len(new) == 215
    assert len(new) - len(set(new)) >= 3
    fields = [line.split(",") for line in new]
    orphans = [f for f in fields if len(f) == 4 and (f[1].startswith("REF9") or f[3].startswith("9"))]
    assert len(orphans) == 4


def test_cli_writes_the_three_files(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "loader.generate",
            "--out",
            str(tmp_path),
            "--rows",
            "50",
            "--days",
            "5",
            "--stores",
            "3",
            "--products",
            "4",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "wrote 50 sales lines" in out.stdout
    assert (tmp_path / "magasins.csv").read_bytes().decode().count("\r\n") == 3
