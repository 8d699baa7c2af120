"""The client's address, when a reverse proxy stands between the client and the app.

Behind nginx every request's REMOTE_ADDR is the proxy's, so the audit log would record one
address for everybody and the log-in lock-out (five failures per user name *and* address)
would lock an account for every client at once. The proxy says who its client was in
`X-Forwarded-For`, but anybody can send that header: it is believed only when the request
comes from an address listed in `settings.LINLI_TRUSTED_PROXIES` (addresses or networks,
empty by default, i.e. no proxy is trusted).

The client is then the right-most address of `X-Forwarded-For` that is not itself a trusted
proxy: each proxy appends the address it received the request from, so entries to the left of
that one were written by the client and may be forged.

One function answers for the audit log (`AuditContext.from_request`) and for django-axes
(`AXES_CLIENT_IP_CALLABLE`), so the two never disagree.
"""

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    # Cached per value of the setting (tests change it with override_settings).
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def trusted_networks() -> tuple[Network, ...]:
    """Returns the networks of the trusted proxies (empty when none is configured).

    Raises ValueError when an entry of LINLI_TRUSTED_PROXIES is not an address or network.
    """
    return _networks(tuple(getattr(settings, "LINLI_TRUSTED_PROXIES", ())))


def _parse(value: str) -> Address | None:
    value = value.strip()
    # "[2001:db8::1]:443" and "203.0.113.7:51000" are sent by some proxies.
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _is_trusted(address: Address, networks: Iterable[Network]) -> bool:
    return any(address in network for network in networks)


def client_address(request: HttpRequest) -> str | None:
    """Returns the address of the client that made the request, or None when unknown.

    REMOTE_ADDR, unless it is a trusted proxy: then the right-most X-Forwarded-For entry that
    is not a trusted proxy (the proxy's own address when the header is missing or unreadable).
    """
    remote = request.META.get("REMOTE_ADDR") or None
    networks = trusted_networks()
    if remote is None or not networks:
        return remote
    remote_address = _parse(remote)
    if remote_address is None or not _is_trusted(remote_address, networks):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for entry in reversed(forwarded.split(",")):
        address = _parse(entry)
        if address is None:
            # An unreadable hop: nothing to its left can be trusted either.
            return remote
        if not _is_trusted(address, networks):
            return str(address)
    return remote
