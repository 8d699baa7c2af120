from django.contrib import admin

from linli.areas.models import Area
from linli.areas.services import create_area, update_area
from linli.core.actors import AuditContext


@admin.register(Area)
class AreaAdmin(admin.ModelAdmin):
    """New areas get their path from the service; existing ones can only be renamed here."""

    list_display = ["name", "level", "code", "path"]
    list_filter = ["level"]
    search_fields = ["name", "code"]
    readonly_fields = ["path"]
    raw_id_fields = ["parent"]
    list_per_page = 100

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        # Moving a node or changing its level would need its whole subtree re-pathed.
        return ["path", "parent", "level"] if obj else ["path"]

    def save_model(self, request, obj, form, change) -> None:
        if change:
            update_area(
                area=obj,
                name=obj.name,
                aliases=obj.aliases,
                code=obj.code,
                floor=obj.floor,
                by=request.user,
                context=AuditContext.from_request(request),
            )
            return
        created = create_area(
            parent=obj.parent,
            level=obj.level,
            name=obj.name,
            code=obj.code,
            aliases=obj.aliases,
            floor=obj.floor,
            by=request.user,
            context=AuditContext.from_request(request),
        )
        obj.pk, obj.path = created.pk, created.path
