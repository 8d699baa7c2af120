"""Roles and what each may see.

A role decides which sensitivity classes a user sees in clear, which they see masked, and
whether they may reveal a full value by stating a purpose. Jurisdiction (which people) is
decided separately, by the area tree (linli.core.jurisdiction).
"""

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _

from linli.core.jurisdiction import Viewer
from linli.core.sensitivity import Sensitivity


class Role(models.TextChoices):
    GRID_WORKER = "grid_worker", _("Grid worker")
    COMMUNITY_LEAD = "community_lead", _("Community lead")
    STREET_OFFICER = "street_officer", _("Street officer")
    DISTRICT_OFFICER = "district_officer", _("District officer")
    CITY_OFFICER = "city_officer", _("City officer")
    DATA_STEWARD = "data_steward", _("Data steward")
    VOLUNTEER = "volunteer", _("Volunteer")


class Visibility(models.TextChoices):
    CLEAR = "clear", _("shown")
    MASKED = "masked", _("masked")
    HIDDEN = "hidden", _("hidden")


@dataclass(frozen=True)
class RolePolicy:
    personal: Visibility
    sensitive: Visibility
    identifier: Visibility
    may_reveal: bool
    may_browse_people: bool
    may_read_audit_log: bool

    def visibility(self, sensitivity: Sensitivity) -> Visibility:
        if sensitivity == Sensitivity.PUBLIC:
            return Visibility.CLEAR
        return {
            Sensitivity.PERSONAL: self.personal,
            Sensitivity.SENSITIVE: self.sensitive,
            Sensitivity.IDENTIFIER: self.identifier,
        }[sensitivity]


_CLEAR, _MASKED, _HIDDEN = Visibility.CLEAR, Visibility.MASKED, Visibility.HIDDEN

# Identifiers are masked for every role: a full ID number or phone needs a stated purpose.
# Officials above the community work on aggregates, so they see names masked too.
ROLE_POLICIES: dict[str, RolePolicy] = {
    Role.GRID_WORKER: RolePolicy(_CLEAR, _CLEAR, _MASKED, True, True, False),
    Role.COMMUNITY_LEAD: RolePolicy(_CLEAR, _CLEAR, _MASKED, True, True, False),
    Role.STREET_OFFICER: RolePolicy(_MASKED, _CLEAR, _MASKED, True, True, False),
    Role.DISTRICT_OFFICER: RolePolicy(_MASKED, _CLEAR, _MASKED, True, True, False),
    Role.CITY_OFFICER: RolePolicy(_MASKED, _CLEAR, _MASKED, True, True, False),
    Role.DATA_STEWARD: RolePolicy(_CLEAR, _CLEAR, _MASKED, True, True, True),
    Role.VOLUNTEER: RolePolicy(_MASKED, _HIDDEN, _MASKED, False, False, False),
}
# Write capabilities beyond reading, each granted to a set of roles (checked with
# linli.core.permissions.require, which also checks jurisdiction).
REGISTRY_STEWARDS = (Role.DATA_STEWARD, Role.COMMUNITY_LEAD)  # import files, resolve duplicates
HOUSEHOLD_EDITORS = (Role.DATA_STEWARD, Role.COMMUNITY_LEAD, Role.GRID_WORKER)

NO_ACCESS = RolePolicy(_HIDDEN, _HIDDEN, _HIDDEN, False, False, False)


def policy_for(user: Viewer) -> RolePolicy:
    """Returns the role policy of a user; an anonymous or role-less user gets no access."""
    if not getattr(user, "is_authenticated", False):
        return NO_ACCESS
    return ROLE_POLICIES.get(getattr(user, "role", ""), NO_ACCESS)
