"""Module docstrings as ``--help`` text: the reST markup docstrings use, removed.

Docstrings are written for the code's reader (``python -m report``, :func:`write_sheet`); a
person typing ``--help`` should read ``python -m report`` and ``write_sheet``.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")  # :func:`x`, :class:`~a.b`
_LITERAL = re.compile(r"``([^`]+)``")


def plain(doc: str | None) -> str:
    """``doc`` without reST roles and double backquotes."""
    return _LITERAL.sub(r"\1", _ROLE.sub(r"\1", doc or ""))
