"""Log-in, log-out and failed log-in events from django.contrib.auth."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from linli.audit.models import AuditAction
from linli.audit.services import record_event
from linli.core.actors import AuditContext


def _home_path(user) -> str:
    paths = getattr(user, "jurisdiction_paths", ())
    return paths[0] if paths else ""


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs) -> None:
    record_event(
        action=AuditAction.LOGIN,
        actor=user,
        context=AuditContext.from_request(request),
        area_path=_home_path(user),
    )


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        record_event(
            action=AuditAction.LOGOUT,
            actor=user,
            context=AuditContext.from_request(request),
            area_path=_home_path(user),
        )


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    username = str(credentials.get("username", ""))[:150]
    # A failure on a known account is shown to the stewards of that account's area; one on an
    # unknown name has no area and is seen through the admin only.
    known = get_user_model().objects.filter(username=username).first()
    record_event(
        action=AuditAction.LOGIN_FAILED,
        actor_username=username,
        context=AuditContext.from_request(request),
        area_path=_home_path(known) if known else "",
    )
