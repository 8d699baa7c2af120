"""Writes to accounts: every change of who may do what is audited (role, areas, flags, Django
permissions and groups, name, password). The admin makes its changes through these too."""

import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from linli.accounts.models import (
    AccountAction,
    AreaAssignment,
    SignInCode,
    StaffImportBatch,
    User,
)
from linli.accounts.selectors import user_of
from linli.accounts.staff_sheet import StaffRow
from linli.adapters import sms
from linli.areas.models import Area
from linli.audit.services import record_event
from linli.core.actors import Actor, AuditContext
from linli.core.errors import CHINESE, in_language
from linli.core.jurisdiction import path_within
from linli.core.permissions import require
from linli.core.roles import Role

# Who may bring in staff from a sheet, each only inside their own jurisdiction.
STAFF_IMPORTERS = (
    Role.DATA_STEWARD,
    Role.COMMUNITY_LEAD,
    Role.STREET_OFFICER,
    Role.DISTRICT_OFFICER,
    Role.CITY_OFFICER,
)
SIGN_IN_CODE_HOURS = 72
SIGN_IN_CODE_TRIES = 5


def _home_path(user: User) -> str:
    return user.jurisdiction_paths[0] if user.jurisdiction_paths else ""


def _audit_permission_change(
    *,
    user: User,
    by: Actor | None,
    context: AuditContext | None,
    area_path: str,
    detail: dict[str, object],
    action: str = AccountAction.PERMISSION_CHANGE,
) -> None:
    record_event(
        action=action,
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
        area_path=_home_path(user),
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
    password itself): who created whom, with which role and areas. Call it once the areas are
    assigned, so the event lies in the account's area (where the log's readers see it)."""
    user.__dict__.pop("jurisdiction_paths", None)
    _audit_permission_change(
        user=user,
        by=by,
        context=context,
        area_path=_home_path(user),
        detail={
            "change": "create",
            "role": user.role,
            "areas": sorted(user.areas.values_list("name", flat=True)),
        },
    )


def record_flags_changed(
    *, user: User, flags: dict[str, bool], by: Actor | None, context: AuditContext | None = None
) -> None:
    """Audits a change of an account's active, staff or superuser flag (made in the admin)."""
    _audit_permission_change(
        user=user,
        by=by,
        context=context,
        area_path=_home_path(user),
        detail={"change": "flags", **flags},
    )


@transaction.atomic
def move_assignment(
    *,
    user: User,
    from_area: Area,
    to_area: Area,
    by: Actor | None,
    context: AuditContext | None = None,
) -> AreaAssignment:
    """Moves one of the user's assignments to another area: the old area is taken away and
    the new one given, each recorded. Returns the new assignment."""
    unassign_area(user=user, area=from_area, by=by, context=context)
    return assign_area(user=user, area=to_area, by=by, context=context)


@transaction.atomic
def rename_user(
    *, user: User, username: str, by: Actor | None, context: AuditContext | None = None
) -> User:
    """Changes the account's log-in name and records both names (nothing when it is the
    same). Returns the user. Raises ValidationError for an invalid or taken name."""
    previous = User.objects.get(pk=user.pk).username
    if previous == username:
        return user
    user.username = username
    user.full_clean(exclude=[f.name for f in User._meta.fields if f.name != "username"])
    user.save(update_fields=["username"])
    _audit_permission_change(
        user=user,
        by=by,
        context=context,
        area_path=_home_path(user),
        detail={"from": previous, "to": username},
        action=AccountAction.USER_RENAMED,
    )
    return user


@transaction.atomic
def set_password(
    *, user: User, password: str | None, by: Actor | None, context: AuditContext | None = None
) -> User:
    """Sets the account's password (None: no password works, e.g. single sign-on only) and
    records that it was set, never the password. Returns the user."""
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    return store_password(user=user, by=by, context=context)


@transaction.atomic
def store_password(*, user: User, by: Actor | None, context: AuditContext | None = None) -> User:
    """Stores the password already set on `user` (Django's admin form hashes it itself, so
    the raw password never reaches the service) and records that it was set. Returns the
    user."""
    user.save(update_fields=["password"])
    _audit_permission_change(
        user=user,
        by=by,
        context=context,
        area_path=_home_path(user),
        detail={"usable": user.has_usable_password()},
        action=AccountAction.PASSWORD_SET,
    )
    return user


def _permission_names(permissions: Iterable[Permission]) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in permissions}


def _difference(name: str, before: set[str], after: set[str]) -> dict[str, list[str]]:
    changes = {f"{name}_added": sorted(after - before), f"{name}_removed": sorted(before - after)}
    return {key: names for key, names in changes.items() if names}


@transaction.atomic
def set_permissions(
    *,
    user: User,
    groups: Iterable[Group],
    permissions: Iterable[Permission],
    by: Actor | None,
    context: AuditContext | None = None,
) -> User:
    """Gives the user exactly these Django groups and permissions (the admin's grants, which
    work beside the role) and records what was added and taken (nothing when nothing
    changed). Returns the user."""
    groups, permissions = list(groups), list(permissions)
    groups_before = set(user.groups.values_list("name", flat=True))
    permissions_before = _permission_names(user.user_permissions.select_related("content_type"))
    user.groups.set(groups)
    user.user_permissions.set(permissions)
    detail = {
        **_difference("groups", groups_before, {g.name for g in groups}),
        **_difference("permissions", permissions_before, _permission_names(permissions)),
    }
    if detail:
        _audit_permission_change(
            user=user,
            by=by,
            context=context,
            area_path=_home_path(user),
            detail={"change": "permissions", **detail},
        )
    return user


@transaction.atomic
def set_group_permissions(
    *,
    group: Group,
    permissions: Iterable[Permission],
    by: Actor | None,
    context: AuditContext | None = None,
) -> Group:
    """Gives a Django group exactly these permissions (every member gains or loses them) and
    records what was added and taken, with the members' names. Returns the group."""
    permissions = list(permissions)
    before = _permission_names(group.permissions.select_related("content_type"))
    group.permissions.set(permissions)
    detail = _difference("permissions", before, _permission_names(permissions))
    if detail:
        record_event(
            action=AccountAction.PERMISSION_CHANGE,
            actor=by,
            actor_username=by.get_username() if by else "system",
            context=context,
            subject=group,
            object_label=group.name,
            detail={
                "change": "group_permissions",
                "group": group.name,
                "members": sorted(group.user_set.values_list("username", flat=True)),
                **detail,
            },
        )
    return group


def _scope(paths: Iterable[str]) -> str:
    """The path an import or deactivation is filed under: the shortest path it touched."""
    return min(paths, key=len, default="")


@transaction.atomic
def import_staff(
    *,
    rows: list[StaffRow],
    file_name: str,
    by: Actor,
    context: AuditContext | None = None,
) -> StaffImportBatch:
    """Creates the accounts of a checked staff sheet (linli.accounts.staff_sheet.read_staff)
    in one transaction, each without a usable password and with a one-time sign-in code sent
    by SMS once the transaction commits. Existing accounts are left as they are. Records each
    account and the import. Returns the batch. Raises ValidationError when a row is refused
    and PermissionDenied for an importer who may not, or an area outside their jurisdiction."""
    require(by, roles=STAFF_IMPORTERS, paths=[a.path for r in rows for a in r.areas])
    if any(r.error for r in rows):
        raise ValidationError(_("Correct the refused rows first."))
    new = [r for r in rows if not r.exists]
    batch = StaffImportBatch.objects.create(
        file_name=file_name,
        area_path=_scope(a.path for r in new for a in r.areas) or _home_path_of(by),
        created_by=user_of(by),
        created_count=len(new),
    )
    for row in new:
        user = User(
            username=row.username,
            display_name=row.name,
            work_phone=row.phone,
            role=row.role,
            import_batch=batch,
        )
        user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save()
        for area in row.areas:
            assign_area(user=user, area=area, by=by, context=context)
        _audit_permission_change(
            user=user,
            by=by,
            context=context,
            area_path=row.areas[0].path,
            detail={"change": "create", "role": row.role, "batch": batch.pk},
        )
        issue_sign_in_code(user=user, by=by, context=context)
    record_event(
        action=AccountAction.STAFF_IMPORTED,
        actor=by,
        context=context,
        subject=batch,
        detail={"file": file_name, "created": len(new), "existing": len(rows) - len(new)},
    )
    return batch


def _home_path_of(by: Actor) -> str:
    return by.jurisdiction_paths[0] if by.jurisdiction_paths else ""


def sign_in_url() -> str:
    """Returns the address of the first sign-in page as the SMS gives it."""
    return f"{settings.LINLI_PUBLIC_URL}{reverse('accounts:first_sign_in')}"


@transaction.atomic
def issue_sign_in_code(
    *, user: User, by: Actor | None, context: AuditContext | None = None
) -> None:
    """Gives the account a new one-time code (earlier unused ones stop working) and sends it
    by SMS to the account's work phone after commit. Records that a code was sent, never the
    code."""
    code = f"{secrets.randbelow(10**6):06d}"
    SignInCode.objects.filter(user=user, used_at__isnull=True).update(expires_at=timezone.now())
    SignInCode.objects.create(
        user=user,
        code_hash=make_password(code),
        expires_at=timezone.now() + timedelta(hours=SIGN_IN_CODE_HOURS),
    )
    text = in_language(
        _(
            "Linli: %(name)s, your work account %(username)s is ready. To sign in the first "
            "time, open %(url)s and enter your user name and the code %(code)s (valid "
            "%(hours)s hours), then choose your own password."
        ),
        CHINESE,
        {
            "name": user.display_name or user.username,
            "username": user.username,
            "url": sign_in_url(),
            "code": code,
            "hours": SIGN_IN_CODE_HOURS,
        },
    )
    phone = user.work_phone
    transaction.on_commit(lambda: sms.send_sms(to=phone, text=text, reference=f"signin:{user.pk}"))
    _audit_permission_change(
        user=user,
        by=by,
        context=context,
        area_path=_home_path(user),
        detail={"phone_last_digits": phone[-4:]},
        action=AccountAction.SIGN_IN_CODE_SENT,
    )


class SignInRefused(ValidationError):
    """The user name, code or password of a first sign-in was not accepted."""


def redeem_sign_in_code(
    *, username: str, code: str, password: str, context: AuditContext | None = None
) -> User:
    """Checks a one-time code and sets the account's own password. The code then never works
    again; a wrong code counts against the code's few tries (counted even though the caller
    gets an error). Records the first sign-in. Returns the user. Raises SignInRefused (the
    same message whether the name or the code is wrong) or ValidationError for a password
    the validators refuse."""
    refused = SignInRefused(_("The user name or code is wrong, used or expired."))
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise refused
    entry = (
        SignInCode.objects.filter(user=user, used_at__isnull=True, expires_at__gt=timezone.now())
        .order_by("-created_at")
        .first()
    )
    if entry is None or entry.attempts >= SIGN_IN_CODE_TRIES:
        raise refused
    if not check_password(code.strip(), entry.code_hash):
        SignInCode.objects.filter(pk=entry.pk).update(attempts=F("attempts") + 1)
        raise refused
    validate_password(password, user)
    with transaction.atomic():
        # Only one of two simultaneous tries with the right code may use it.
        if not SignInCode.objects.filter(pk=entry.pk, used_at__isnull=True).update(
            used_at=timezone.now()
        ):
            raise refused
        user.set_password(password)
        user.save(update_fields=["password"])
        _audit_permission_change(
            user=user,
            by=user,
            context=context,
            area_path=_home_path(user),
            detail={"usable": True},
            action=AccountAction.FIRST_SIGN_IN,
        )
    return user


@transaction.atomic
def deactivate_staff(
    *,
    batch: StaffImportBatch | None = None,
    area: Area | None = None,
    by: Actor,
    context: AuditContext | None = None,
) -> int:
    """Ends the accounts of a deployment: those a staff import created (`batch`), or those
    whose every area lies inside `area`. Never the acting account or a superuser. Unused
    sign-in codes stop working. Records each account and the whole. Returns how many were
    deactivated. Raises PermissionDenied for a role that may not, or a batch or area outside
    the actor's jurisdiction."""
    if (batch is None) == (area is None):
        raise ValueError("give a batch or an area")
    scope = batch.area_path if batch is not None else area.path  # type: ignore[union-attr]
    require(by, roles=STAFF_IMPORTERS, paths=[scope])
    users = User.objects.filter(is_active=True, is_superuser=False).exclude(pk=by.pk)
    if batch is not None:
        users = users.filter(import_batch=batch)
    else:
        users = users.filter(assignments__area__path__startswith=scope).distinct()
    ended = []
    for user in users.prefetch_related("assignments__area"):
        paths = [a.area.path for a in user.assignments.all()]
        # Someone who also answers for an area outside the selection (or the actor's
        # jurisdiction) is not ended by it.
        if not all(p.startswith(scope) and path_within(p, by) for p in paths):
            continue
        ended.append(user)
    User.objects.filter(pk__in=[u.pk for u in ended]).update(is_active=False)
    SignInCode.objects.filter(user__in=ended, used_at__isnull=True).update(
        expires_at=timezone.now()
    )
    for user in ended:
        _audit_permission_change(
            user=user,
            by=by,
            context=context,
            area_path=_home_path(user),
            detail={"change": "flags", "is_active": False, "batch": batch.pk if batch else None},
            action=AccountAction.STAFF_DEACTIVATED,
        )
    if batch is not None:
        batch.deactivated_at = timezone.now()
        batch.save(update_fields=["deactivated_at"])
    record_event(
        action=AccountAction.STAFF_DEACTIVATED,
        actor=by,
        context=context,
        object_type="staff_import" if batch else "area",
        object_id=batch.pk if batch else area.pk,  # type: ignore[union-attr]
        object_label=batch.file_name if batch else area.name,  # type: ignore[union-attr]
        area_path=scope,
        detail={"deactivated": len(ended)},
    )
    return len(ended)
