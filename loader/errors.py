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


class ArchiveError(LoaderError):
    """The landing archive cannot be written or read (``loader.archive``)."""


class BackupError(LoaderError):
    """A backup could not be taken, or a file is not a sound backup (``loader.backup``)."""


class SchemaTooNew(LoaderError):
    """The warehouse was written by a newer release (``loader.migrations``)."""


class WarehouseDamaged(LoaderError):
    """The warehouse file fails its check; the message says how to get the data back
    (``loader.integrity``)."""


class NotAWarehouse(LoaderError):
    """``--db`` names a folder or a file that is not SQLite: refused before anything is written."""


class WarehouseUnavailable(Exception):
    """The warehouse file is missing or cannot be read, for a reader (a report, the dashboard,
    a doc generator); the message says what to run first (``loader.db.read_only``)."""


class Interrupted(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C, so the running transaction rolls back."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class DeadlineExpired(BaseException):
    """The whole exchange with a server ran past --max-seconds (loader.fetch.hard_deadline).
    A BaseException: no library's ``except Exception`` swallows it on its way up."""


class Retryable(Exception):
    """A fetch attempt failed in a way worth another attempt (a 5xx, a 429, a reset): caught by
    the retry loop of ``loader.fetch``, never seen by a user; ``retry_after`` is the server's."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Truncated(Exception):
    """The body stopped before its declared end: worth another attempt (``loader.body``)."""


class OutOfOrder(Exception):
    """A key dated before the occurrence counter's eviction horizon arrived: its earlier count
    was forgotten, the file is read again with an unbounded counter (``loader.occurrence``)."""


class BadVariable(ValueError):
    """An environment variable's value its flag would refuse; the commands exit 2 with it, as
    argparse does for the flag (loader.envvars)."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"environment variable {name}: {why}")


class InvalidValue(ValueError):
    """A field that cannot be parsed; the message becomes the row's reject reason."""
