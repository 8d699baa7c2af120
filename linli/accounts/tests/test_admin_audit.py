"""Every change of who may do what made in the admin is in the audit log: creating an account
with its role, renaming it, setting its password (never the password itself), granting Django
permissions or groups, changing a group's permissions, and moving an assignment to another
area (which really moves it)."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.forms import MultiWidget
from django.urls import reverse

from linli.accounts.models import AccountAction, AreaAssignment, User
from linli.audit.models import AuditEvent
from linli.core.roles import Role


@pytest.fixture
def admin_client(world, client):
    world.admin = User.objects.create_superuser(username="root", password="a long root password")
    client.force_login(world.admin)
    return client


def form_data(response) -> dict:
    """Returns the POST data of an admin change form as it was shown: the main form's
    values and every inline's stored rows (no extra rows)."""
    data: dict = {}

    def add(form) -> None:
        for bound in form:
            if bound.field.disabled:
                continue
            value = bound.value()
            if isinstance(bound.field.widget, MultiWidget):
                for index, part in enumerate(bound.field.widget.decompress(value)):
                    if part is not None:
                        data[f"{bound.html_name}_{index}"] = str(part)
            elif isinstance(value, list | tuple):
                data[bound.html_name] = [str(v) for v in value]
            elif value is True:
                data[bound.html_name] = "on"
            elif value not in (None, False):
                data[bound.html_name] = str(value)

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        stored = formset.initial_form_count()
        add(formset.management_form)
        data[f"{formset.prefix}-TOTAL_FORMS"] = str(stored)
        for form in formset.forms[:stored]:
            add(form)
    return data


def change_url(user) -> str:
    return reverse("admin:accounts_user_change", args=[user.pk])


def events(action: str = AccountAction.PERMISSION_CHANGE, **detail) -> list[AuditEvent]:
    return [
        e
        for e in AuditEvent.objects.filter(action=action).order_by("id")
        if all(e.detail.get(k) == v for k, v in detail.items())
    ]


def save_change(client, user, **changes):
    data = form_data(client.get(change_url(user)))
    data.update(changes)
    response = client.post(change_url(user), data)
    assert response.status_code == 302, response.context and [
        response.context["adminform"].form.errors,
        [f.errors for i in response.context["inline_admin_formsets"] for f in i.formset],
    ]
    return response


def test_an_unchanged_save_records_nothing(world, admin_client):
    before = AuditEvent.objects.count()
    save_change(admin_client, world.grid_a)
    assert AuditEvent.objects.count() == before


def test_creating_an_account_with_a_role_and_area_is_recorded_in_its_area(world, admin_client):
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "new_grid",
            "password1": "a long new password 1",
            "password2": "a long new password 1",
            "usable_password": "true",
            "role": Role.GRID_WORKER,
            "display_name": "新网格员",
            "assignments-TOTAL_FORMS": "1",
            "assignments-0-area": str(world.a.grid.pk),
            "assignments-INITIAL_FORMS": "0",
            "assignments-MIN_NUM_FORMS": "0",
            "assignments-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="new_grid")
    assert user.role == Role.GRID_WORKER
    created = [e for e in events(change="create") if e.object_id == str(user.pk)]
    assert [(e.detail["role"], e.actor_id) for e in created] == [(Role.GRID_WORKER, world.admin.pk)]
    # In the account's area, where the log's readers of that area see it (not only the
    # superuser), with the areas it was given.
    assert created[0].area_path == world.a.grid.path
    assert created[0].detail["areas"] == [world.a.grid.name]
    assert user.areas.get() == world.a.grid


def test_renaming_an_account_is_recorded(world, admin_client):
    save_change(admin_client, world.grid_a, username="grid_a_new")
    assert User.objects.get(pk=world.grid_a.pk).username == "grid_a_new"
    [event] = events(AccountAction.USER_RENAMED)
    assert event.detail == {"from": "grid_a", "to": "grid_a_new"}
    assert event.object_id == str(world.grid_a.pk)


def test_setting_a_password_is_recorded_without_the_password(world, admin_client):
    url = reverse("admin:auth_user_password_change", args=[world.grid_a.pk])
    password = "another long password 7"
    response = admin_client.post(
        url, {"password1": password, "password2": password, "usable_password": "true"}
    )
    assert response.status_code == 302
    assert User.objects.get(pk=world.grid_a.pk).check_password(password)
    [event] = events(AccountAction.PASSWORD_SET)
    assert event.object_id == str(world.grid_a.pk) and event.actor_id == world.admin.pk
    assert event.detail == {"usable": True}
    assert password not in str(AuditEvent.objects.values_list())


def test_granting_permissions_and_groups_is_recorded(world, admin_client):
    group = Group.objects.create(name="auditors")
    permission = Permission.objects.get(codename="view_auditevent")
    save_change(
        admin_client,
        world.grid_a,
        groups=[str(group.pk)],
        user_permissions=[str(permission.pk)],
    )
    user = User.objects.get(pk=world.grid_a.pk)
    assert list(user.groups.all()) == [group]
    assert list(user.user_permissions.all()) == [permission]
    [granted] = events(change="permissions")
    assert granted.detail["groups_added"] == ["auditors"]
    assert granted.detail["permissions_added"] == ["audit.view_auditevent"]
    save_change(admin_client, world.grid_a, groups=[], user_permissions=[])
    [_, taken] = events(change="permissions")
    assert taken.detail["groups_removed"] == ["auditors"]
    assert taken.detail["permissions_removed"] == ["audit.view_auditevent"]


def test_changing_a_groups_permissions_is_recorded(world, admin_client):
    group = Group.objects.create(name="auditors")
    permission = Permission.objects.get(codename="view_auditevent")
    response = admin_client.post(
        reverse("admin:auth_group_change", args=[group.pk]),
        {"name": "auditors", "permissions": [str(permission.pk)]},
    )
    assert response.status_code == 302
    assert list(group.permissions.all()) == [permission]
    [event] = events(change="group_permissions")
    assert event.detail["group"] == "auditors"
    assert event.detail["permissions_added"] == ["audit.view_auditevent"]


def test_moving_an_assignment_to_another_area_moves_it_and_records_both(world, admin_client):
    data = form_data(admin_client.get(change_url(world.grid_a)))
    [key] = [k for k in data if k.startswith("assignments-0-area")]
    data[key] = str(world.a.community.pk)
    response = admin_client.post(change_url(world.grid_a), data)
    assert response.status_code == 302
    assert list(
        AreaAssignment.objects.filter(user=world.grid_a).values_list("area", flat=True)
    ) == [world.a.community.pk]
    by_admin = [e for e in events() if e.actor_id == world.admin.pk]
    assert [(e.detail["change"], e.detail["area_id"]) for e in by_admin] == [
        ("unassign", world.a.grid.pk),
        ("assign", world.a.community.pk),
    ]
