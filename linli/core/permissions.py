"""The one check behind every write that is limited to some roles and to the user's areas."""

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from linli.core.actors import Actor
from linli.core.jurisdiction import path_within


def require(user: Actor, *, roles: Iterable[str], paths: Iterable[str] = ()) -> None:
    """Raises PermissionDenied unless the user has one of `roles` and every path lies inside
    their jurisdiction. A superuser passes."""
    if getattr(user, "is_superuser", False):
        return
    if getattr(user, "role", "") not in set(roles):
        raise PermissionDenied(_("Your role may not do this."))
    if not all(path_within(path, user) for path in paths):
        raise PermissionDenied(_("Outside your jurisdiction."))
