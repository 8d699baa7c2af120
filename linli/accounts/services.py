"""Writes to accounts: every change of who may do what is audited (role, areas, flags, Django
permissions and groups, name, password). The admin makes its changes through these too."""

from collections.abc import Iterable

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from linli.accounts.models import AccountAction, AreaAssignment, User
from linli.accounts.selectors import user_of
from linli.areas.models import Area
from linli.audit.services import record_event
from linli.core.actors import Actor, AuditContext


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
