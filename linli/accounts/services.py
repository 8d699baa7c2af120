"""Writes to accounts: every change of role or jurisdiction is audited."""

from django.db import transaction

from linli.accounts.models import AccountAction, AreaAssignment, User
from linli.accounts.selectors import user_of
from linli.areas.models import Area
from linli.audit.services import record_event
from linli.core.actors import Actor, AuditContext


def _audit_permission_change(
    *,
    user: User,
    by: Actor | None,
    context: AuditContext | None,
    area_path: str,
    detail: dict[str, object],
) -> None:
    record_event(
        action=AccountAction.PERMISSION_CHANGE,
        actor=by,
        context=context,
        subject=user,
        object_label=user.get_username(),
        area_path=area_path,
        detail=detail,
    )


@transaction.atomic
def create_staff_user(
    *,
    username: str,
    password: str,
    role: str,
    areas: list[Area],
    display_name: str = "",
    by: Actor | None = None,
    context: AuditContext | None = None,
) -> User:
    """Creates a staff account with its role and assigned areas, and records it. `by` is None
    when no one signed in does it (the demo, a command). Returns the user. Raises
    ValidationError for an invalid username or role."""
    user = User(username=username, role=role, display_name=display_name)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    for area in areas:
        assign_area(user=user, area=area, by=by, context=context)
    _audit_permission_change(
        user=user,
        by=by,
        context=context,
        area_path=areas[0].path if areas else "",
        detail={"change": "create", "role": role},
    )
    return user


@transaction.atomic
def set_role(
    *, user: User, role: str, by: Actor | None, context: AuditContext | None = None
) -> User:
    """Changes a user's role and records it (nothing when the role is the same). Returns the
    user."""
    previous = user.role
    if previous == role:
        return user
    user.role = role
    user.save(update_fields=["role"])
    _audit_permission_change(
        user=user,
        by=by,
        context=context,
        area_path=user.jurisdiction_paths[0] if user.jurisdiction_paths else "",
        detail={"change": "role", "from": previous, "to": role},
    )
    return user


@transaction.atomic
def assign_area(
    *, user: User, area: Area, by: Actor | None, context: AuditContext | None = None
) -> AreaAssignment:
    """Makes the user answer for an area (and all below it); records it when it is new.
    Returns the assignment."""
    assignment, created = AreaAssignment.objects.get_or_create(
        user=user, area=area, defaults={"assigned_by": user_of(by)}
    )
    if created:
        user.__dict__.pop("jurisdiction_paths", None)
        _audit_permission_change(
            user=user,
            by=by,
            context=context,
            area_path=area.path,
            detail={"change": "assign", "area": area.name, "area_id": area.pk},
        )
    return assignment


@transaction.atomic
def unassign_area(
    *, user: User, area: Area, by: Actor | None, context: AuditContext | None = None
) -> None:
    """Takes an area from the user's jurisdiction; records it when they had it."""
    deleted, _ = AreaAssignment.objects.filter(user=user, area=area).delete()
    if deleted:
        user.__dict__.pop("jurisdiction_paths", None)
        _audit_permission_change(
            user=user,
            by=by,
            context=context,
            area_path=area.path,
            detail={"change": "unassign", "area": area.name, "area_id": area.pk},
        )


def record_account_created(
    *, user: User, by: Actor | None, context: AuditContext | None = None
) -> None:
    """Audits an account created outside create_staff_user (Django's admin form sets the
    password itself): who created whom, with which role."""
    _audit_permission_change(
        user=user,
        by=by,
        context=context,
        area_path="",
        detail={"change": "create", "role": user.role},
    )


def record_flags_changed(
    *, user: User, flags: dict[str, bool], by: Actor | None, context: AuditContext | None = None
) -> None:
    """Audits a change of an account's active, staff or superuser flag (made in the admin)."""
    _audit_permission_change(
        user=user,
        by=by,
        context=context,
        area_path=user.jurisdiction_paths[0] if user.jurisdiction_paths else "",
        detail={"change": "flags", **flags},
    )
