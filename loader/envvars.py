"""Environment variables, read like the flags they stand for.

A service is configured by its environment (docker-compose.yml), so a typo there must not
silently change what is counted: every variable goes through the same parser, choices and
bounds as its flag, and a bad value stops the command with exit status 2 naming the variable
(argparse checks a flag's choices, never its default). A LOADER_* or REFRESH_* variable that no
command reads (``LOADER_SALES_ULR``) is reported at start.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TextIO, TypeVar

from .errors import BadVariable

T = TypeVar("T")

# every variable a command of this project reads (docs: README, docker-compose.yml)
KNOWN = frozenset(
    {
        "LOADER_SALES_URL",
        "LOADER_PRODUCTS_URL",
        "LOADER_STORES_URL",
        "LOADER_FROM_DIR",
        "LOADER_SALES_ID_COLUMN",
        "LOADER_ON_MISSING",
        "REFRESH_INTERVAL",
    }
)
WATCHED_PREFIXES = ("LOADER_", "REFRESH_")


def read(
    name: str,
    parse: Callable[[str], T] = str,  # type: ignore[assignment]
    *,
    choices: Sequence[str] | None = None,
) -> T | None:
    """The value of ``name`` through its flag's parser and choices; None when unset or empty."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    if choices is not None and text not in choices:
        raise BadVariable(name, f"{text!r} is not one of {', '.join(choices)}")
    try:
        return parse(text)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise BadVariable(name, str(exc)) from None


def unknown(environ: Iterable[str] | None = None) -> list[str]:
    """LOADER_* and REFRESH_* variables no command reads (a typo, or a removed setting)."""
    names = os.environ if environ is None else environ
    return sorted(n for n in names if n.startswith(WATCHED_PREFIXES) and n not in KNOWN)


def report_unknown(stream: TextIO | None = None) -> None:
    for name in unknown():
        print(
            f"warning: environment variable {name} is not read by ventes-pme (a typo?); "
            f"known: {', '.join(sorted(KNOWN))}",
            file=stream or sys.stderr,
        )


def parse_command_line(
    build_parser: Callable[[], argparse.ArgumentParser], argv: Sequence[str] | None
) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """A command's parser and arguments, the environment read with them: unknown variables
    reported, a bad value ends the command with exit status 2 and one line naming it."""
    report_unknown()
    try:
        parser = build_parser()
        return parser, parser.parse_args(argv)
    except BadVariable as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
