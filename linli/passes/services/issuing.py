"""Policies, issuing, reissuing, changing the holder, revoking.

Every pass is signed when it is written: its token is stored, so the resident's page and the
printed card show the same QR code until the pass is revoked or reissued. A change to what a
token says (another holder, a new validity) is a new pass; the old one goes on the
revocation list, which is why reissuing and changing the holder revoke.
"""

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from linli.areas.models import Area
from linli.audit.services import record_event
from linli.core.actors import Actor, AuditContext
from linli.core.masking import mask_name
from linli.core.permissions import require
from linli.passes import tokens
from linli.passes.models import (
    Pass,
    PassAction,
    PassKind,
    PassPolicy,
    PassRevocation,
    PassStatus,
    RevokeReason,
    SigningKey,
)
from linli.passes.roles import HOLDER_EDITORS, PASS_ISSUERS
from linli.passes.services.keys import current_signing_key, private_key_of
from linli.registry.models import Household, Person

MAX_RULE = 255  # rules travel as one byte each


def create_policy(
    *,
    area: Area,
    name: str,
    kind: str,
    valid_from: date,
    valid_until: date,
    one_per_household: bool = True,
    out_every_days: int = 0,
    out_max_hours: int = 0,
    medical_weekdays: int = 0,
    medical_from_hour: int = 0,
    medical_to_hour: int = 0,
    by: Actor,
    context: AuditContext | None = None,
) -> PassPolicy:
    """Creates a pass policy for an area and returns it.

    Raises PermissionDenied unless `by` issues passes there; ValidationError (by field) for
    an area without a 12-digit division code (gates check passes by it), a validity ending
    before it starts, or rules out of their ranges."""
    require(by, roles=PASS_ISSUERS, paths=[area.path])
    errors: dict[str, object] = {}
    if not name.strip():
        errors["name"] = _("A name is required")
    if kind not in PassKind.values:
        errors["kind"] = _("Choose a kind of pass")
    if len(area.code) != 12 or not area.code.isdigit():
        errors["area"] = _("Passes are issued by an area with a 12-digit division code")
    if valid_until < valid_from:
        errors["valid_until"] = _("The last day must not be before the first")
    for field, value in [("out_every_days", out_every_days), ("out_max_hours", out_max_hours)]:
        if not 0 <= value <= MAX_RULE:
            errors[field] = _("Enter a number from 0 to 255")
    if not 0 <= medical_weekdays < 1 << 7:
        errors["medical_weekdays"] = _("Choose days of the week")
    if (medical_from_hour, medical_to_hour) != (0, 0) and not (
        0 <= medical_from_hour < medical_to_hour <= 24
    ):
        errors["medical_to_hour"] = _("Hours run from 0 to 24, the end after the start")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        policy = PassPolicy.objects.create(
            area=area,
            area_path=area.path,
            name=name.strip(),
            kind=kind,
            valid_from=valid_from,
            valid_until=valid_until,
            one_per_household=one_per_household,
            out_every_days=out_every_days,
            out_max_hours=out_max_hours,
            medical_weekdays=medical_weekdays,
            medical_from_hour=medical_from_hour,
            medical_to_hour=medical_to_hour,
            created_by=_user(by),
        )
        record_event(action=PassAction.CREATE_POLICY, actor=by, context=context, subject=policy)
    return policy


def issue_pass(
    *, policy: PassPolicy, holder: Person, by: Actor, context: AuditContext | None = None
) -> Pass:
    """Issues a signed pass of the policy to one person and returns it.

    Raises PermissionDenied unless `by` issues passes for the policy's area and the holder
    is within their jurisdiction; ValidationError when the holder lives outside the policy's
    area, the policy has ended, or (one pass per household) their household already holds
    a valid pass of it."""
    require(by, roles=PASS_ISSUERS, paths=[policy.area_path, holder.area_path])
    with transaction.atomic():
        _check_holder(policy, holder)
        if (
            policy.one_per_household
            and holder.household_id
            and _active(policy, [holder.household_id])
        ):
            raise ValidationError(
                {"holder": _("This household already holds a valid pass of this policy")}
            )
        issued = _issue(policy, [holder], by=by)[0]
        record_event(action=PassAction.ISSUE, actor=by, context=context, subject=issued)
    return issued


def issue_to_area(
    *, policy: PassPolicy, by: Actor, context: AuditContext | None = None
) -> list[Pass]:
    """Issues a pass of the policy to every household of its area that holds none yet, the
    head of household holding it (the first member when no head is recorded); returns the
    new passes. Households without a member are skipped.

    Raises PermissionDenied unless `by` issues passes for the policy's area; ValidationError
    when the policy has ended."""
    require(by, roles=PASS_ISSUERS, paths=[policy.area_path])
    _check_open(policy)
    with transaction.atomic():
        # Subqueries, not lists of ids: an area of 100,000 households would pass SQLite's
        # limit on query parameters.
        served = Pass.objects.filter(
            policy=policy, status=PassStatus.ACTIVE, household__isnull=False
        ).values("household_id")
        members = (
            Person.objects.filter(
                household__area_path__startswith=policy.area_path, merged_into__isnull=True
            )
            .exclude(household_id__in=served)
            .select_related("household")
            .order_by("household_id", "pk")
        )
        heads = dict(
            Household.objects.filter(area_path__startswith=policy.area_path).values_list(
                "pk", "head_id"
            )
        )
        holders: dict[int, Person] = {}
        for person in members:
            household_id = person.household_id
            assert household_id is not None
            current = holders.get(household_id)
            if current is None or (
                person.pk == heads[household_id] and current.pk != heads[household_id]
            ):
                holders[household_id] = person
        issued = _issue(policy, list(holders.values()), by=by)
        record_event(
            action=PassAction.ISSUE_AREA,
            actor=by,
            context=context,
            subject=policy,
            detail={"issued": len(issued)},
        )
    return issued


def reissue_pass(*, pass_: Pass, by: Actor, context: AuditContext | None = None) -> Pass:
    """Revokes a pass and issues its holder a new one under the same policy (a lost card,
    a retired key, a holder's corrected name); returns the new pass.

    Raises PermissionDenied unless `by` issues passes for it; ValidationError when it is
    already revoked or its policy has ended."""
    require(by, roles=PASS_ISSUERS, paths=[pass_.area_path])
    with transaction.atomic():
        old = _lock_active(pass_)
        _check_open(old.policy)
        _revoke(old, reason=RevokeReason.REISSUED, by=by)
        new = _issue(old.policy, [old.holder], by=by, replaces=old)[0]
        record_event(
            action=PassAction.REISSUE,
            actor=by,
            context=context,
            subject=new,
            detail={"replaces": old.pk},
        )
    return new


def change_holder(
    *, pass_: Pass, holder: Person, by: Actor, context: AuditContext | None = None
) -> Pass:
    """Gives a household's pass to another member of the household: the pass is revoked
    and a new one, naming the new holder, replaces it. Returns the new pass.

    Raises PermissionDenied unless `by` may change holders there; ValidationError when the
    person is not of the pass's household, already holds it, or the pass is revoked."""
    require(by, roles=HOLDER_EDITORS, paths=[pass_.area_path, holder.area_path])
    with transaction.atomic():
        old = _lock_active(pass_)
        if old.household_id is None or holder.household_id != old.household_id:
            raise ValidationError({"holder": _("Choose a member of the pass's household")})
        if holder.pk == old.holder_id:
            raise ValidationError({"holder": _("This person already holds the pass")})
        _check_open(old.policy)
        _check_holder(old.policy, holder)
        _revoke(old, reason=RevokeReason.HOLDER_CHANGED, by=by)
        new = _issue(old.policy, [holder], by=by, replaces=old)[0]
        record_event(
            action=PassAction.CHANGE_HOLDER,
            actor=by,
            context=context,
            subject=new,
            detail={"replaces": old.pk, "from_person": old.holder_id, "to_person": holder.pk},
        )
    return new


def revoke_pass(
    *, pass_: Pass, note: str = "", by: Actor, context: AuditContext | None = None
) -> Pass:
    """Revokes a pass on a lead's decision; it joins the revocation list. Returns it.

    Raises PermissionDenied unless `by` issues passes for it; ValidationError when it is
    already revoked."""
    require(by, roles=PASS_ISSUERS, paths=[pass_.area_path])
    with transaction.atomic():
        revoked = _revoke(_lock_active(pass_), reason=RevokeReason.LEAD, by=by, note=note)
        record_event(
            action=PassAction.REVOKE,
            actor=by,
            context=context,
            subject=revoked,
            detail={"reason": RevokeReason.LEAD},
        )
    return revoked


def revoke_passes_of_person(
    *,
    person: Person,
    note: str = "",
    by: Actor | None = None,
    context: AuditContext | None = None,
) -> list[Pass]:
    """Revokes every valid pass a person holds because they were put under home quarantine
    or monitoring; returns the revoked passes. The hook the health app calls: `by` is the
    user who put them under monitoring, or None when no one signed in did (an import, a
    rule). The household keeps no pass: its lead reissues to another member."""
    with transaction.atomic():
        held = list(
            Pass.objects.select_for_update().filter(holder=person, status=PassStatus.ACTIVE)
        )
        for pass_ in held:
            _revoke(pass_, reason=RevokeReason.MONITORING, by=by, note=note)
            record_event(
                action=PassAction.REVOKE_MONITORING,
                actor=by,
                context=context,
                subject=pass_,
                detail={"reason": RevokeReason.MONITORING},
            )
    return held


# ---------------------------------------------------------------------------------------------


def validity_of(policy: PassPolicy, *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """Returns (from, until) of a pass issued now: from now, or from the policy's first
    day's local midnight if later, until the local midnight after its last day."""
    now = now or timezone.now()
    zone = timezone.get_current_timezone()
    start = datetime.combine(policy.valid_from, time.min, tzinfo=zone)
    end = datetime.combine(policy.valid_until + timedelta(days=1), time.min, tzinfo=zone)
    return max(start, now.replace(microsecond=0)), end


def _check_open(policy: PassPolicy) -> None:
    start, end = validity_of(policy)
    if end <= start:
        raise ValidationError(_("This policy has ended; create a new one"))


def _check_holder(policy: PassPolicy, holder: Person) -> None:
    _check_open(policy)
    if holder.merged_into_id is not None:
        raise ValidationError({"holder": _("This file was merged into another")})
    if not holder.area_path.startswith(policy.area_path):
        raise ValidationError({"holder": _("The holder does not live in the policy's area")})


def _active(policy: PassPolicy, household_ids: Iterable[int]) -> bool:
    return Pass.objects.filter(
        policy=policy, household_id__in=list(household_ids), status=PassStatus.ACTIVE
    ).exists()


def _lock_active(pass_: Pass) -> Pass:
    locked = Pass.objects.select_for_update().select_related("policy", "holder").get(pk=pass_.pk)
    if locked.status != PassStatus.ACTIVE:
        raise ValidationError(_("This pass is already revoked"))
    return locked


def _issue(
    policy: PassPolicy, holders: list[Person], *, by: Actor, replaces: Pass | None = None
) -> list[Pass]:
    """Writes and signs one pass per holder (two statements for any number: the rows, then
    their tokens, which need the ids)."""
    if not holders:
        return []
    key = current_signing_key()
    valid_from, valid_until = validity_of(policy)
    rows = Pass.objects.bulk_create(
        [
            Pass(
                policy=policy,
                holder=holder,
                household_id=holder.household_id,
                area_path=holder.area_path,
                key_id=key.key_id,
                token="",
                valid_from=valid_from,
                valid_until=valid_until,
                issued_by=_user(by),
                replaces=replaces,
            )
            for holder in holders
        ]
    )
    buildings = _buildings(holders)
    for row, holder in zip(rows, holders, strict=True):
        row.token = sign_pass(row, holder=holder, key=key, building=buildings.get(holder.pk, ""))
    # One prepared UPDATE run per row (executemany): bulk_update's CASE WHEN per batch grows
    # with the batch and costs SQLite seconds per thousand rows.
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {Pass._meta.db_table} SET token = %s WHERE id = %s",  # noqa: S608
            [(row.token, row.pk) for row in rows],
        )
    return rows


def _buildings(holders: list[Person]) -> dict[int, str]:
    """Returns each holder's building: their household's (already joined when the caller
    selected it), else their own address's."""
    of_household: dict[int, str] = {}
    missing = set()
    for holder in holders:
        if holder.household_id is None:
            continue
        household = holder.household if Person.household.is_cached(holder) else None
        if household is not None:
            of_household[holder.household_id] = household.address_building
        else:
            missing.add(holder.household_id)
    if missing:
        of_household.update(
            Household.objects.filter(pk__in=missing).values_list("pk", "address_building")
        )
    return {
        h.pk: (of_household.get(h.household_id, "") if h.household_id else "") or h.address_building
        for h in holders
    }


def sign_pass(pass_: Pass, *, holder: Person, key: SigningKey, building: str) -> str:
    """Returns the token of a pass signed with `key` (the claims docs/passes-token.md
    lists). Writes nothing: callers store it."""
    policy = pass_.policy
    id_tail = holder.id_number_masked[-4:] if len(holder.id_number_masked) >= 4 else ""
    if id_tail and not all(c.isdigit() or c in "Xx" for c in id_tail):
        id_tail = ""
    claims = tokens.PassClaims(
        key_id=key.key_id,
        pass_id=pass_.pk,
        kind=policy.kind,
        area_code=policy.area.code,
        valid_from=int(pass_.valid_from.timestamp()),
        valid_until=int(pass_.valid_until.timestamp()),
        masked_name=mask_name(holder.name),
        id_tail=id_tail.upper(),
        building=building,
        out_every_days=policy.out_every_days,
        out_max_hours=policy.out_max_hours,
        medical_weekdays=policy.medical_weekdays,
        medical_from_hour=policy.medical_from_hour,
        medical_to_hour=policy.medical_to_hour,
    )
    return tokens.encode(claims, private_key_of(key))


def _revoke(pass_: Pass, *, reason: str, by: Actor | None, note: str = "") -> Pass:
    pass_.status = PassStatus.REVOKED
    pass_.revoked_at = timezone.now()
    pass_.revoked_by = _user(by) if by is not None else None
    pass_.revoke_reason = reason
    pass_.revoke_note = note[:200]
    pass_.save(update_fields=["status", "revoked_at", "revoked_by", "revoke_reason", "revoke_note"])
    PassRevocation.objects.create(
        revoked_pass=pass_, valid_until=pass_.valid_until, area_path=pass_.area_path
    )
    return pass_


def _user(by: Actor) -> Any:
    """Returns the user to store as author: None for an actor that is not a saved user."""
    return by if getattr(by, "is_authenticated", False) and getattr(by, "pk", None) else None
