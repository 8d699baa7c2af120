"""Who does what with work orders.

- Raise: staff of the order's area (residents and the system raise through higher apps with
  `by=None`).
- Dispatch, reopen, cancel, merge, change service levels: a community lead for their
  community, officials for everything below them, and a grid worker inside their grid
  (dispatching to a volunteer is the grid's everyday work).
- Accept, start, finish: the assignee; for an order in an area's queue, anyone of the queue's
  workers (grid workers, volunteers, the lead). Two at once: one wins.
- Acknowledge an escalation: anyone the ladder notified, or a manager of the area.
"""

from linli.core.actors import Actor
from linli.core.jurisdiction import path_within
from linli.core.roles import Role

MANAGERS = (
    Role.COMMUNITY_LEAD,
    Role.STREET_OFFICER,
    Role.DISTRICT_OFFICER,
    Role.CITY_OFFICER,
)
DISPATCHERS = (*MANAGERS, Role.GRID_WORKER)
WORKERS = (Role.GRID_WORKER, Role.VOLUNTEER, Role.COMMUNITY_LEAD)
RAISERS = (*DISPATCHERS, Role.DATA_STEWARD, Role.VOLUNTEER)


def is_manager_of(user: Actor, path: str) -> bool:
    """Returns whether the user manages (dispatches, cancels, reopens) orders at `path`."""
    if getattr(user, "is_superuser", False):
        return True
    return getattr(user, "role", "") in DISPATCHERS and path_within(path, user)


def may_work_in(user: Actor, path: str) -> bool:
    """Returns whether the user may take orders of an area's queue at `path`."""
    if getattr(user, "is_superuser", False):
        return True
    return getattr(user, "role", "") in WORKERS and path_within(path, user)
