"""Write one benchmark's section of docs/benchmarks.md, leaving the other sections alone."""

from __future__ import annotations

from pathlib import Path

HEADER = """# Benchmarks

Measured by `make bench` (not by CI). Each table compares steps run one after the other in the
same command, and gives ratios to a baseline measured in that same run: absolute seconds vary a
lot on these shared machines, ratios much less.
"""


def write_section(path: Path, key: str, title: str, body: str) -> None:
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    block = f"{start}\n## {title}\n\n{body}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def publish(key: str, title: str, text: str, to_docs: bool) -> None:
    """Print a benchmark's results and, unless told not to, write them into docs/benchmarks.md."""
    print(text)
    if to_docs:
        write_section(Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md", key, title, text)
