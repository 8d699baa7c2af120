"""The main navigation, filled by the apps: a lower app never links to a higher one.

Each app registers its entries from its `AppConfig.ready()`:

    register_navigation(
        NavEntry("screening:campaigns", _("Screening"), order=40, visible=may_browse_people),
    )

and the base template renders `navigation_for(user)`. An entry is shown when its `visible`
predicate accepts the user; superusers see what their role (if any) sees, plus the admin.
An entry may carry a `badge`, a function giving the user's count shown beside the label (the
work orders' bell: unread escalations); navigation_for fills `count` from it.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from django.urls import reverse
from django.utils.functional import Promise

from linli.core.jurisdiction import Viewer
from linli.core.roles import policy_for

_ENTRIES: dict[str, "NavEntry"] = {}


def always(user: Viewer) -> bool:
    """Shows an entry to every signed-in user."""
    return bool(getattr(user, "is_authenticated", False))


def may_browse_people(user: Viewer) -> bool:
    """Shows an entry to the roles that may list residents."""
    return policy_for(user).may_browse_people


def has_role(*roles: str) -> Callable[[Viewer], bool]:
    """Returns a predicate showing an entry to the given roles only."""
    allowed = frozenset(roles)
    return lambda user: getattr(user, "role", "") in allowed


@dataclass(frozen=True)
class NavEntry:
    url_name: str
    label: str | Promise
    order: int
    visible: Callable[[Viewer], bool] = always
    badge: Callable[[Viewer], int] | None = None
    count: int = field(default=0, compare=False)

    @property
    def url(self) -> str:
        return reverse(self.url_name)


def register_navigation(*entries: NavEntry) -> None:
    """Adds entries to the main navigation. Raises ValueError on a URL name registered twice
    (two apps claiming one page is a wiring mistake, not something to paper over)."""
    for entry in entries:
        if entry.url_name in _ENTRIES and _ENTRIES[entry.url_name] != entry:
            raise ValueError(f"navigation entry {entry.url_name!r} is registered twice")
        _ENTRIES[entry.url_name] = entry


def registered_navigation() -> tuple[NavEntry, ...]:
    """Returns every registered entry in display order."""
    return tuple(sorted(_ENTRIES.values(), key=lambda entry: (entry.order, entry.url_name)))


def navigation_for(user: Viewer) -> list[NavEntry]:
    """Returns the entries the user sees, in display order (none for an anonymous visitor)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return [
        replace(entry, count=entry.badge(user)) if entry.badge is not None else entry
        for entry in registered_navigation()
        if entry.visible(user)
    ]
