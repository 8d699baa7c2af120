"""The administrative tree 市→区→街道→社区→网格→小区→楼栋→单元→户."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from linli.core.jurisdiction import JurisdictionQuerySet

PATH_SEGMENT_WIDTH = 4  # each level adds "NNNN."; up to 9,999 children per node


class AreaAction(models.TextChoices):
    """What areas write to the audit log (registered in AreasConfig.ready)."""

    CREATE_AREA = "create_area", _("Created an area")
    UPDATE_AREA = "update_area", _("Changed an area")
    MOVE_AREA = "move_area", _("Moved an area")
    IMPORT_AREAS = "import_areas", _("Imported the area tree")


class AreaLevel(models.TextChoices):
    CITY = "city", _("City")
    DISTRICT = "district", _("District")
    STREET = "street", _("Street")
    COMMUNITY = "community", _("Community")
    GRID = "grid", _("Grid")
    COMPOUND = "compound", _("Compound")
    BUILDING = "building", _("Building")
    UNIT = "unit", _("Unit")
    DWELLING = "dwelling", _("Dwelling")


LEVEL_ORDER = [level.value for level in AreaLevel]
# Levels with an official 12-digit statistical division code (统计用区划代码).
ADMINISTRATIVE_LEVELS = {
    AreaLevel.CITY,
    AreaLevel.DISTRICT,
    AreaLevel.STREET,
    AreaLevel.COMMUNITY,
}


class Area(models.Model):
    jurisdiction_path = "path"
    audit_type = "area"  # how the audit log names it (linli.audit.services.record_event)

    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    level = models.CharField(_("level"), max_length=16, choices=AreaLevel.choices)
    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(
        _("division code"),
        max_length=12,
        blank=True,
        help_text=_("Official 12-digit statistical division code (city to community)."),
    )
    path = models.CharField(max_length=64, unique=True, editable=False)
    aliases = models.JSONField(
        _("aliases"), default=list, blank=True, help_text=_("Other names used in files.")
    )
    # Dwellings know their floor so door-knock lists can be walked floor by floor.
    floor = models.SmallIntegerField(_("floor"), null=True, blank=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        ordering = ["path"]
        indexes = [
            models.Index(fields=["parent", "name"], name="area_parent_name"),
            models.Index(fields=["level", "code"], name="area_level_code"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["code"],
                condition=~models.Q(code=""),
                name="area_code_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name

    @property
    def depth(self) -> int:
        return len(self.path) // (PATH_SEGMENT_WIDTH + 1)

    @property
    def is_administrative(self) -> bool:
        return self.level in ADMINISTRATIVE_LEVELS
