"""Where a URL points, decided the same way everywhere (pure functions, no I/O, no DNS).

Two questions the platform asks of a URL it is configured with:

* Is this AWS endpoint this machine's own emulator? Only a loopback address (127.0.0.0/8,
  ``::1``) or the name ``localhost`` counts. A real AWS URL, a VPC endpoint, a private or
  public IP and any other name are not local: whatever they reach holds real data.
* Is this webhook URL safe to post block alerts to? HTTPS (plain HTTP only to loopback, for
  tests and development), no ``user:pass@``, no link-local or cloud metadata address. The
  URL is a secret (it carries the webhook's token), so no message here repeats it.
"""

from __future__ import annotations

import ipaddress
import urllib.parse

#: Instance metadata services outside 169.254.0.0/16 and fe80::/10 (which are refused as
#: link-local): EC2's IPv6 endpoint and Alibaba Cloud's.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200")
)
METADATA_NAMES = frozenset({"metadata.google.internal", "metadata", "instance-data"})


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def is_loopback_host(host: str | None) -> bool:
    """``localhost``, 127.0.0.0/8 or ``::1`` (also written as an IPv4-mapped IPv6 address)."""
    if not host:
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    address = _ip(host)
    return address is not None and address.is_loopback


def _split(url: str) -> urllib.parse.SplitResult | None:
    """The parts of an absolute http(s) URL with a host and a valid port, else ``None``."""
    if any(ord(c) < 33 or ord(c) == 127 for c in url):  # whitespace and control characters
        return None
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return parts


def is_local_endpoint(url: str | None) -> bool:
    """True when ``url`` is an http(s) endpoint on this machine's loopback, and nothing else."""
    parts = _split(url or "")
    if parts is None or parts.username is not None or parts.password is not None:
        return False
    return is_loopback_host(parts.hostname)


def webhook_url_problem(url: str) -> str | None:
    """Why ``url`` is not an acceptable webhook URL, or ``None``. The reason never quotes the
    URL: its path and query are the webhook's secret."""
    parts = _split(url)
    if parts is None:
        return "must be an absolute http(s) URL with a host, without spaces or control characters"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials (user:pass@); the URL's token is the credential"
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme.lower() != "https" and not is_loopback_host(host):
        return "must be https:// (plain http:// only to loopback, for tests)"
    address = _ip(host)
    if host in METADATA_NAMES or (
        address is not None
        and (
            address.is_link_local
            or address in METADATA_ADDRESSES
            or address.is_unspecified
            or address.is_multicast
        )
    ):
        return "must not point at a link-local, metadata or unspecified address"
    return None
