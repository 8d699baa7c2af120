"""Behind a reverse proxy (finding 7 of issue 11): the client's address, not the proxy's, goes
to the audit log and to the log-in lock-out, and only a trusted proxy is believed."""

import pytest
from django.test import Client
from django.urls import reverse

from linli.audit.models import AuditAction, AuditEvent
from linli.demo.factories import PASSWORD

PROXY = "10.0.0.5"
ALICE = "203.0.113.7"
BOB = "198.51.100.9"


def client_behind(remote: str, forwarded: str | None = None) -> Client:
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return Client(**headers)


def log_in(client: Client, password: str, username: str = "grid_a"):
    return client.post(reverse("accounts:login"), {"username": username, "password": password})


def logged_address(action: str = AuditAction.LOGIN) -> str | None:
    return AuditEvent.objects.filter(action=action).latest("pk").ip_address


@pytest.fixture
def behind_proxy(settings):
    settings.LINLI_TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]


def test_a_forged_forwarded_for_from_an_untrusted_address_is_ignored(world, behind_proxy):
    """X-Forwarded-For sent by a client that is not a trusted proxy changes nothing."""
    log_in(client_behind(ALICE, forwarded="192.0.2.1"), PASSWORD)
    assert logged_address() == ALICE


def test_without_trusted_proxies_forwarded_for_is_ignored(world):
    """Off by default: even from the proxy's address the header is not believed."""
    log_in(client_behind(PROXY, forwarded=ALICE), PASSWORD)
    assert logged_address() == PROXY


def test_the_client_behind_a_trusted_proxy_is_logged(world, behind_proxy):
    """From a trusted proxy the right-most untrusted X-Forwarded-For entry is the client; what
    the client itself put to the left of it is not believed."""
    log_in(client_behind(PROXY, forwarded=f"192.0.2.1, {ALICE}, 10.1.2.3"), PASSWORD)
    assert logged_address() == ALICE
    log_in(client_behind(PROXY, forwarded=f"{BOB}"), "wrong-password")
    assert logged_address(AuditAction.LOGIN_FAILED) == BOB


def test_an_unreadable_forwarded_for_falls_back_to_the_proxy(world, behind_proxy):
    log_in(client_behind(PROXY, forwarded="not-an-address"), PASSWORD)
    assert logged_address() == PROXY


def test_lock_out_behind_a_proxy_locks_one_client_not_everybody(world, behind_proxy, settings):
    """Two clients behind one proxy: the one who typed wrong passwords is locked out, the other
    still logs in to the same account."""
    mallory = client_behind(PROXY, forwarded=ALICE)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(mallory, "wrong-password")
    assert log_in(mallory, PASSWORD).status_code == 429
    response = log_in(client_behind(PROXY, forwarded=BOB), PASSWORD)
    assert response.status_code == 302
    assert AuditEvent.objects.get(action=AuditAction.LOGIN).ip_address == BOB
