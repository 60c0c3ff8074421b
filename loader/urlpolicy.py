"""Which redirects the loader follows: http(s) only, and never from a public host to this
machine or a private network.

Google's published CSV links redirect to Google's content host, so redirects must be followed;
but a feed URL must not be able to turn the loader into a probe of the machine it runs on
or of the network behind it (a redirect to http://127.0.0.1:8001/ or http://10.0.0.5/), nor
read local files through another scheme (file://). A URL that is itself local (a test server,
a folder served on the LAN on purpose) may redirect locally: the operator chose it.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlparse

from .errors import FetchError

MAX_REDIRECTS = 5


def is_local_host(host: str) -> bool:
    """True for loopback, private, link-local and unspecified addresses (or names resolving to one)."""
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False  # unresolvable: the request itself will fail with a clear message
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    return any(a.is_loopback or a.is_private or a.is_link_local or a.is_unspecified for a in addresses)


def check_redirect(from_url: str, to_url: str) -> None:
    """Raise FetchError unless following ``from_url`` -> ``to_url`` is allowed."""
    target = urlparse(to_url)
    if target.scheme not in ("http", "https"):
        raise FetchError(
            f"the server redirected to a {target.scheme or 'relative'}: URL, which the loader never "
            "follows (only http and https): check the feed's URL"
        )
    origin_host = urlparse(from_url).hostname or ""
    if not is_local_host(origin_host) and is_local_host(target.hostname or ""):
        raise FetchError(
            f"the server at {origin_host} redirected to a local or private address "
            f"({target.hostname}): refused; check the feed's URL"
        )
