"""ventes-pme loader: lands the client's CSV feeds into append-only raw_ tables in SQLite."""

from .load import FeedResult, LoadOptions, load_feed, load_feeds
from .schema import connect

__all__ = ["FeedResult", "LoadOptions", "connect", "load_feed", "load_feeds"]
