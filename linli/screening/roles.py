"""Who does what in screening: the roles that manage campaigns, screen residents and close
follow-ups, and the checks services and selectors share."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from linli.core.actors import Actor
from linli.core.jurisdiction import path_within
from linli.core.permissions import require
from linli.core.roles import Role, RolePolicy, policy_for
from linli.screening.models import (
    CampaignTarget,
)

# Who organises campaigns: a community lead for their community, officials for everything
# below them (a street-wide 全员排查).
CAMPAIGN_MANAGERS = (
    Role.COMMUNITY_LEAD,
    Role.STREET_OFFICER,
    Role.DISTRICT_OFFICER,
    Role.CITY_OFFICER,
)
# Who records contact attempts for residents (door knocks, calls made by hand).
SCREENERS = (Role.GRID_WORKER, Role.COMMUNITY_LEAD)


def require_manager(by: Actor, *paths: str) -> None:
    require(by, roles=CAMPAIGN_MANAGERS, paths=paths)


def may_record_for(user: Actor, target: CampaignTarget) -> bool:
    """Returns whether the user may record attempts for this target (door-knock form)."""
    if getattr(user, "is_superuser", False):
        return True
    return getattr(user, "role", "") in SCREENERS and path_within(target.area_path, user)


# ---------------------------------------------------------------------------------------------
# Follow-up tasks

# Who closes follow-up tasks: those who go to the door. Officials above see the tasks and the
# flags on people's files, but the visit is the grid's work.
TASK_CLOSERS = SCREENERS


def may_close_tasks(user: Actor) -> bool:
    """Returns whether the user's role closes follow-up tasks (in their own areas)."""
    return getattr(user, "is_superuser", False) or getattr(user, "role", "") in TASK_CLOSERS


def require_browse(user: Actor) -> RolePolicy:
    policy = policy_for(user)
    if not policy.may_browse_people:
        raise PermissionDenied(_("This role does not see screening"))
    return policy
