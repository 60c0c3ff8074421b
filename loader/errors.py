"""The loader's feed-level error, shared by the modules that detect one."""


class FeedError(Exception):
    """The feed as a whole cannot be loaded; the message tells the user what to do."""
