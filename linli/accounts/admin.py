"""Staff administration. Every change of who may do what goes through a service, so it is
audited: role, name, password, areas, flags, Django permissions and groups (also a group's
own permissions)."""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.models import Group
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from linli.accounts import services
from linli.accounts.models import AreaAssignment, User
from linli.core.actors import AuditContext

# Many-to-many fields the admin forms would save themselves; the services save them instead.
USER_GRANTS = ("groups", "user_permissions")


class AreaAssignmentInline(admin.TabularInline):
    model = AreaAssignment
    fk_name = "user"
    extra = 1
    raw_id_fields = ["area"]
    readonly_fields = ["assigned_at", "assigned_by"]


class DeferredPasswordChangeForm(AdminPasswordChangeForm):
    """Hashes the new password onto the user without storing it: UserAdmin.log_change, which
    Django calls right after, stores it through services.store_password (with the request's
    actor), so setting a password is audited."""

    def save(self, commit: bool = True) -> Any:
        return super().save(commit=False)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "display_name", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active", "is_staff"]
    search_fields = ["username", "display_name"]
    inlines = [AreaAssignmentInline]
    change_password_form = DeferredPasswordChangeForm
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Linli"), {"fields": ("role", "display_name", "work_phone")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("Linli"), {"fields": ("role", "display_name")}),
    )

    def save_model(self, request: HttpRequest, obj: User, form: ModelForm, change: bool) -> None:
        context = AuditContext.from_request(request)
        if not change:
            # Recorded in save_related, once the areas of the add form are assigned.
            super().save_model(request, obj, form, change)
            return
        stored = User.objects.get(pk=obj.pk)
        new_role, new_username = obj.role, obj.username
        # The services change these two and record it; the form's save leaves them as stored.
        obj.role, obj.username = stored.role, stored.username
        super().save_model(request, obj, form, change)
        if "username" in form.changed_data:
            services.rename_user(user=obj, username=new_username, by=request.user, context=context)
        if "role" in form.changed_data:
            services.set_role(user=obj, role=new_role, by=request.user, context=context)
        flags = [f for f in ("is_active", "is_staff", "is_superuser") if f in form.changed_data]
        if flags:
            services.record_flags_changed(
                user=obj,
                flags={f: getattr(obj, f) for f in flags},
                by=request.user,
                context=context,
            )

    def save_related(
        self, request: HttpRequest, form: ModelForm, formsets: list, change: bool
    ) -> None:
        context = AuditContext.from_request(request)
        # Taken out of the form's own many-to-many save: set_permissions saves and records them.
        grants = {
            name: form.cleaned_data.pop(name) for name in USER_GRANTS if name in form.cleaned_data
        }
        super().save_related(request, form, formsets, change)
        user = form.instance
        if grants:
            services.set_permissions(
                user=user,
                groups=grants.get("groups", user.groups.all()),
                permissions=grants.get("user_permissions", user.user_permissions.all()),
                by=request.user,
                context=context,
            )
        if not change:
            services.record_account_created(user=user, by=request.user, context=context)

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool
    ) -> None:
        if formset.model is not AreaAssignment:
            return super().save_formset(request, form, formset, change)
        context = AuditContext.from_request(request)
        assignments = formset.save(commit=False)
        for removed in formset.deleted_objects:
            services.unassign_area(
                user=removed.user, area=removed.area, by=request.user, context=context
            )
        for assignment, changed in formset.changed_objects:
            if "area" in changed:
                # A stored assignment given another area: the old area is taken away and the
                # new one given (formerly the admin said "changed" and kept the old area).
                stored = AreaAssignment.objects.select_related("area").get(pk=assignment.pk)
                services.move_assignment(
                    user=form.instance,
                    from_area=stored.area,
                    to_area=assignment.area,
                    by=request.user,
                    context=context,
                )
        for assignment in assignments:
            if assignment.pk is None:
                services.assign_area(
                    user=form.instance, area=assignment.area, by=request.user, context=context
                )
        return None

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        # The password form hashed a new password onto `obj` without storing it
        # (DeferredPasswordChangeForm): store it now, through the service that records it.
        if isinstance(obj, User) and obj.password != User.objects.get(pk=obj.pk).password:
            services.store_password(
                user=obj, by=request.user, context=AuditContext.from_request(request)
            )
        return super().log_change(request, obj, message)


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    """Django's group admin, with a group's permissions saved (and recorded) by a service:
    they change what every member may do."""

    def save_related(
        self, request: HttpRequest, form: ModelForm, formsets: list, change: bool
    ) -> None:
        permissions = form.cleaned_data.pop("permissions", None)
        super().save_related(request, form, formsets, change)
        if permissions is not None:
            services.set_group_permissions(
                group=form.instance,
                permissions=permissions,
                by=request.user,
                context=AuditContext.from_request(request),
            )
