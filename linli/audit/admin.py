from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from linli.audit.actions import action_choices, action_label
from linli.audit.models import AuditEvent


class ActionFilter(admin.SimpleListFilter):
    """Filters by the actions the apps registered (the field itself has no fixed choices)."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return action_choices()

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only."""

    list_display = ["at", "actor_username", "action_name", "object_type", "object_label", "purpose"]
    list_filter = [ActionFilter]
    search_fields = ["actor_username", "object_label"]

    @admin.display(description=_("action"), ordering="action")
    def action_name(self, event: AuditEvent) -> str:
        return action_label(event.action)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
