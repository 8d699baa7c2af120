"""Jurisdiction: the one place that decides which rows a user may see.

Every area has a materialised path (`0001.0003.0012.`); a user's jurisdiction is the set of
paths of the areas assigned to them, and a row is visible when its path starts with one of
them. Every list, detail, export and API goes through `JurisdictionQuerySet.visible_to`.
"""

from typing import TYPE_CHECKING, Any, Self, TypeAlias

from django.db import models
from django.db.models import Q

from linli.core.actors import Actor

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

# Views pass `request.user`, which may be anonymous; tasks may pass no user at all. Both see
# nothing, so every function here accepts them as well as an Actor.
Viewer: TypeAlias = "Actor | AnonymousUser | None"


def paths_of(user: Viewer) -> tuple[str, ...]:
    """Returns the area-path prefixes a user may see (empty: nothing, for an anonymous, inactive
    or missing user)."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return ()
    return tuple(getattr(user, "jurisdiction_paths", ()))


def path_within(path: str, user: Viewer) -> bool:
    """Returns whether an area path lies inside the user's jurisdiction."""
    return any(path.startswith(prefix) for prefix in paths_of(user))


class JurisdictionQuerySet(models.QuerySet[Any]):
    """A queryset whose model names the field holding its area path (`jurisdiction_path`)."""

    def visible_to(self, user: Viewer) -> Self:
        """Returns the rows inside the user's jurisdiction; none for an outsider."""
        field = self.model.jurisdiction_path
        condition = Q()
        for prefix in paths_of(user):
            condition |= Q(**{f"{field}__startswith": prefix})
        return self.filter(condition) if condition else self.none()
