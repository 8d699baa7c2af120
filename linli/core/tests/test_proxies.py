"""The client's address through trusted proxies (linli.core.proxies)."""

import pytest
from django.test import RequestFactory

from linli.core.checks import trusted_proxies_readable
from linli.core.proxies import client_address


def request_from(remote: str, forwarded: str | None = None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "client"),
    [
        ([], "10.0.0.5", "203.0.113.7", "10.0.0.5"),  # off by default
        (["10.0.0.0/8"], "198.51.100.1", "203.0.113.7", "198.51.100.1"),  # not a proxy
        (["10.0.0.0/8"], "10.0.0.5", "203.0.113.7", "203.0.113.7"),
        (["10.0.0.0/8"], "10.0.0.5", "1.2.3.4, 203.0.113.7, 10.9.9.9", "203.0.113.7"),
        (["10.0.0.0/8"], "10.0.0.5", "203.0.113.7:51000", "203.0.113.7"),
        (["::1"], "::1", "[2001:db8::7]:443", "2001:db8::7"),
        (["10.0.0.0/8"], "10.0.0.5", "", "10.0.0.5"),
        (["10.0.0.0/8"], "10.0.0.5", "10.1.1.1", "10.0.0.5"),  # only proxies: the proxy itself
        (["10.0.0.0/8"], "10.0.0.5", "203.0.113.7, junk", "10.0.0.5"),  # unreadable hop
    ],
)
def test_client_address(settings, trusted, remote, forwarded, client):
    settings.LINLI_TRUSTED_PROXIES = trusted
    assert client_address(request_from(remote, forwarded)) == client


def test_a_malformed_trusted_proxy_stops_the_app(settings):
    settings.LINLI_TRUSTED_PROXIES = ["10.0.0.0/8", "nginx"]
    [error] = trusted_proxies_readable(None)
    assert error.id == "linli.E013"
    settings.LINLI_TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    assert trusted_proxies_readable(None) == []
