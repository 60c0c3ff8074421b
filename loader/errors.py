"""The loader's exceptions: one hierarchy, so the orchestrator knows what a feed failure is.

Everything a feed can fail with derives from :class:`LoaderError`; the orchestrator catches
that base class, records a failed run with the message, and goes on with the next feed. The
message is written for the person running the loader: it says what is wrong and what to do.

:class:`InvalidValue` is deliberately *not* a LoaderError: a field that does not parse only
rejects its row (``loader_rejects``), never the feed.
"""

from __future__ import annotations


class LoaderError(Exception):
    """A feed cannot be loaded; the message tells the user what to do."""


class FeedError(LoaderError):
    """The feed's content as a whole is unusable (ambiguous dates, a 304 nobody asked for...)."""


class FetchError(LoaderError):
    """The feed could not be obtained (HTTP error, unreachable host, missing file)."""


class NotCsvError(LoaderError):
    """The body is not a CSV feed (empty, HTML, binary)."""


class HeaderError(LoaderError):
    """The header does not name the columns the feed needs."""


class ParserDied(LoaderError):
    """The forked sales parser exited without a word (killed, out of memory)."""


class InvalidValue(ValueError):
    """A field that cannot be parsed; the message becomes the row's reject reason."""
