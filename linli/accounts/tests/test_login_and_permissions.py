import pytest
from django.urls import reverse

from config import settings as config_settings
from linli.accounts import services
from linli.accounts.models import AccountAction
from linli.audit.models import AuditAction, AuditEvent
from linli.core.roles import Role
from linli.demo.factories import PASSWORD


def test_login_lands_on_home_and_is_audited(world, client):
    """Logging in through the form lands on the home page and records a log-in event."""
    response = client.post(
        reverse("accounts:login"), {"username": "grid_a", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("reports:home")
    event = AuditEvent.objects.get(action=AuditAction.LOGIN)
    assert event.actor == world.grid_a
    assert event.area_path == world.a.grid.path


def test_failed_logins_are_audited_and_lock_the_account(world, client, settings):
    """Each failure is recorded; after the limit even the right password is refused."""
    url = reverse("accounts:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": "grid_a", "password": "wrong-password"})
    assert (
        AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, actor_username="grid_a").count()
        == settings.AXES_FAILURE_LIMIT
    )
    locked = client.post(url, {"username": "grid_a", "password": PASSWORD})
    assert locked.status_code == 429
    assert "15" in locked.content.decode()
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN).exists()


def test_wrong_password_shows_a_clear_error(world, client):
    """A wrong password re-shows the form with an error, in Chinese by default."""
    response = client.post(reverse("accounts:login"), {"username": "grid_a", "password": "x"})
    assert response.status_code == 200
    assert "用户名或密码错误" in response.content.decode()


def test_role_and_area_changes_are_audited(world):
    """Changing a role or an assignment writes a permission-change event with its detail."""
    services.set_role(user=world.grid_a, role=Role.COMMUNITY_LEAD, by=world.lead_a)
    services.assign_area(user=world.grid_a, area=world.a.community, by=world.lead_a)
    services.unassign_area(user=world.grid_a, area=world.a.grid, by=world.lead_a)
    changes = list(
        AuditEvent.objects.filter(
            action=AccountAction.PERMISSION_CHANGE, object_id=str(world.grid_a.pk)
        ).order_by("id")
    )
    details = [e.detail["change"] for e in changes]
    assert details[-3:] == ["role", "assign", "unassign"]
    assert world.grid_a.jurisdiction_paths == (world.a.community.path,)


def test_session_and_security_headers(world, client_for, settings):
    """Pages carry CSP, no-store, frame denial; sessions expire with the browser."""
    response = client_for(world.grid_a).get(reverse("registry:people"))
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert "no-store" in response["Cache-Control"]
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    assert config_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


@pytest.mark.parametrize("url_name", ["reports:home", "registry:people", "audit:events"])
def test_anonymous_users_are_sent_to_log_in(client, url_name):
    """Every page needs a log-in."""
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]
