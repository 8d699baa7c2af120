"""Staff administration. Role and area changes go through services so they are audited."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from linli.accounts import services
from linli.accounts.models import AreaAssignment, User
from linli.core.actors import AuditContext


class AreaAssignmentInline(admin.TabularInline):
    model = AreaAssignment
    fk_name = "user"
    extra = 1
    raw_id_fields = ["area"]
    readonly_fields = ["assigned_at", "assigned_by"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "display_name", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active", "is_staff"]
    search_fields = ["username", "display_name"]
    inlines = [AreaAssignmentInline]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Linli"), {"fields": ("role", "display_name", "work_phone")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("Linli"), {"fields": ("role", "display_name")}),
    )

    def save_model(self, request, obj, form, change) -> None:
        new_role = obj.role
        if change and "role" in form.changed_data:
            obj.role = User.objects.get(pk=obj.pk).role
            super().save_model(request, obj, form, change)
            services.set_role(
                user=obj, role=new_role, by=request.user, context=AuditContext.from_request(request)
            )
        else:
            super().save_model(request, obj, form, change)
            if not change:
                services.record_account_created(
                    user=obj, by=request.user, context=AuditContext.from_request(request)
                )
        flags = [f for f in ("is_active", "is_staff", "is_superuser") if f in form.changed_data]
        if change and flags:
            services.record_flags_changed(
                user=obj,
                flags={f: getattr(obj, f) for f in flags},
                by=request.user,
                context=AuditContext.from_request(request),
            )

    def save_formset(self, request, form, formset, change) -> None:
        if formset.model is not AreaAssignment:
            return super().save_formset(request, form, formset, change)
        assignments = formset.save(commit=False)
        for removed in formset.deleted_objects:
            services.unassign_area(
                user=removed.user,
                area=removed.area,
                by=request.user,
                context=AuditContext.from_request(request),
            )
        for assignment in assignments:
            if assignment.pk is None:
                services.assign_area(
                    user=form.instance,
                    area=assignment.area,
                    by=request.user,
                    context=AuditContext.from_request(request),
                )
        return None
