"""The lead's view of passes: lists by status and single passes, always given the acting
user (jurisdiction by area path, names masked by role)."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from linli.areas.models import Area
from linli.core.actors import Actor
from linli.core.masking import mask_address, present
from linli.core.roles import RolePolicy, policy_for
from linli.core.sensitivity import Sensitivity
from linli.passes.models import Pass, PassPolicy, PassStatus
from linli.passes.roles import HOLDER_EDITORS, PASS_ISSUERS, PASS_READERS
from linli.registry.models import Person

# The statuses the list filters by: "valid" and "expired" split the active passes by time.
STATUS_FILTERS = {
    "valid": _("valid"),
    "expired": _("expired"),
    "revoked": _("revoked"),
}


def require_reader(user: Actor) -> RolePolicy:
    """Returns the user's role policy. Raises PermissionDenied unless they read passes."""
    role_policy = policy_for(user)
    if not getattr(user, "is_superuser", False) and (
        getattr(user, "role", "") not in PASS_READERS or not role_policy.may_browse_people
    ):
        raise PermissionDenied(_("Your role may not do this."))
    return role_policy


def may_issue(user: Actor) -> bool:
    return getattr(user, "is_superuser", False) or getattr(user, "role", "") in PASS_ISSUERS


def may_change_holder(user: Actor) -> bool:
    return getattr(user, "is_superuser", False) or getattr(user, "role", "") in HOLDER_EDITORS


def passes_for(user: Actor, *, status: str = "") -> QuerySet[Pass]:
    """Returns the passes inside the user's jurisdiction, newest first, narrowed to one of
    STATUS_FILTERS when given. Raises PermissionDenied unless the user reads passes."""
    require_reader(user)
    passes = Pass.objects.visible_to(user).select_related("policy", "holder", "household")
    now = timezone.now()
    if status == "valid":
        passes = passes.filter(status=PassStatus.ACTIVE, valid_until__gt=now)
    elif status == "expired":
        passes = passes.filter(status=PassStatus.ACTIVE, valid_until__lte=now)
    elif status == "revoked":
        passes = passes.filter(status=PassStatus.REVOKED)
    return passes.order_by("-id")


def status_counts(user: Actor) -> dict[str, int]:
    """Returns how many of the user's passes are valid, expired and revoked (one query)."""
    require_reader(user)
    now = timezone.now()
    active = Q(status=PassStatus.ACTIVE)
    counts = Pass.objects.visible_to(user).aggregate(
        valid=Count("id", filter=active & Q(valid_until__gt=now)),
        expired=Count("id", filter=active & Q(valid_until__lte=now)),
        revoked=Count("id", filter=Q(status=PassStatus.REVOKED)),
    )
    return {key: counts[key] or 0 for key in STATUS_FILTERS}


@dataclass(frozen=True)
class PassRow:
    id: int
    holder: str
    building: str
    policy: str
    kind: str
    status: str  # a STATUS_FILTERS key
    status_label: str
    valid_until: object
    revoke_reason: str


def pass_rows(user: Actor, passes: list[Pass]) -> list[PassRow]:
    """Returns rows of passes as the user may see them (names and addresses masked by
    role). The passes come from passes_for (related rows already joined)."""
    role_policy = require_reader(user)
    now = timezone.now()
    rows = []
    for pass_ in passes:
        if pass_.status == PassStatus.REVOKED:
            status = "revoked"
        elif pass_.valid_until <= now:
            status = "expired"
        else:
            status = "valid"
        building = pass_.household.address_building if pass_.household else ""
        rows.append(
            PassRow(
                id=pass_.pk,
                holder=present(
                    pass_.holder.name, sensitivity=Sensitivity.PERSONAL, policy=role_policy
                ),
                building=present(
                    building,
                    sensitivity=Sensitivity.PERSONAL,
                    policy=role_policy,
                    mask=lambda value: mask_address(value, ""),
                ),
                policy=pass_.policy.name,
                kind=pass_.policy.get_kind_display(),
                status=status,
                status_label=str(STATUS_FILTERS[status]),
                valid_until=timezone.localtime(pass_.valid_until),
                revoke_reason=pass_.get_revoke_reason_display() if pass_.revoke_reason else "",
            )
        )
    return rows


def pass_for(user: Actor, pass_id: int) -> Pass:
    """Returns the pass if inside the user's jurisdiction. Raises Http404 or
    PermissionDenied."""
    pass_ = passes_for(user).select_related("policy__area").filter(pk=pass_id).first()
    if pass_ is None:
        raise Http404("pass not found")
    return pass_


def policies_for(user: Actor) -> QuerySet[PassPolicy]:
    """Returns the pass policies of the user's areas (and below), newest first."""
    require_reader(user)
    return PassPolicy.objects.visible_to(user).select_related("area").order_by("-id")


def pass_policy_for(user: Actor, policy_id: int) -> PassPolicy:
    """Returns the policy if inside the user's jurisdiction. Raises Http404 or
    PermissionDenied."""
    policy = policies_for(user).filter(pk=policy_id).first()
    if policy is None:
        raise Http404("policy not found")
    return policy


def issuing_areas(user: Actor) -> QuerySet[Area]:
    """Returns the areas inside the user's jurisdiction a policy may belong to: those with
    a 12-digit division code (gates check passes by it)."""
    require_reader(user)
    return Area.objects.visible_to(user).filter(code__regex=r"^[0-9]{12}$").order_by("path")


@dataclass(frozen=True)
class MemberChoice:
    id: int
    name: str
    is_holder: bool


def holder_choices(user: Actor, pass_: Pass) -> list[MemberChoice]:
    """Returns the members of the pass's household the user can see, named as their role
    may see them, for choosing who holds it."""
    role_policy = require_reader(user)
    if pass_.household_id is None:
        return []
    members = (
        Person.objects.visible_to(user)
        .filter(household_id=pass_.household_id, merged_into__isnull=True)
        .only("id", "name")
        .order_by("id")
    )
    return [
        MemberChoice(
            id=member.pk,
            name=present(member.name, sensitivity=Sensitivity.PERSONAL, policy=role_policy),
            is_holder=member.pk == pass_.holder_id,
        )
        for member in members
    ]


def household_member_for(user: Actor, pass_: Pass, person_id: int) -> Person:
    """Returns a member of the pass's household visible to the user. Raises Http404."""
    require_reader(user)
    person = (
        Person.objects.visible_to(user)
        .filter(pk=person_id, household_id=pass_.household_id)
        .first()
        if pass_.household_id
        else None
    )
    if person is None:
        raise Http404("person not found")
    return person
