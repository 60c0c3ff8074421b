"""The live system's exceptions, in one place (the loader's are in ``loader.errors``)."""

from __future__ import annotations

from loader.errors import LoaderError


class AlreadyRunning(Exception):
    """Another refresh holds this warehouse's lock (``pipeline.lock``)."""


class Stop(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM during a refresh: unwinds like Ctrl-C, so every
    transaction under way rolls back and dbt cancels its query (``pipeline.watch``)."""


class HistoryError(LoaderError):
    """A backup, restore or rebuild that cannot be done; the message says why and what to do."""
