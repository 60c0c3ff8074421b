"""ventes-pme loader: lands the client's CSV feeds into append-only raw_ tables in SQLite."""

from .audit import FeedResult
from .db import connect
from .load import LoadOptions, load_feeds

__all__ = ["FeedResult", "LoadOptions", "connect", "load_feeds"]
