"""The unified registry: one file per person (一人一档) and per household (一户一档)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from linli.areas.models import Area
from linli.core.jurisdiction import JurisdictionQuerySet
from linli.core.sensitivity import Sensitivity

# Short aliases keep the field_sensitivity tables readable.
P, S, ID, PUB = (
    Sensitivity.PERSONAL,
    Sensitivity.SENSITIVE,
    Sensitivity.IDENTIFIER,
    Sensitivity.PUBLIC,
)


class Residency(models.TextChoices):
    REGISTERED = "registered", _("Registered (户籍)")
    RESIDENT = "resident", _("Resident (常住)")
    FLOATING = "floating", _("Floating (流动)")


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class Relation(models.TextChoices):
    HEAD = "head", _("Head of household")
    SPOUSE = "spouse", _("Spouse")
    CHILD = "child", _("Child")
    PARENT = "parent", _("Parent")
    GRANDCHILD = "grandchild", _("Grandchild")
    GRANDPARENT = "grandparent", _("Grandparent")
    SIBLING = "sibling", _("Sibling")
    OTHER_RELATIVE = "other_relative", _("Other relative")
    NON_RELATIVE = "non_relative", _("Non-relative (tenant, carer)")


class VulnerableTag(models.TextChoices):
    ELDERLY_ALONE = "elderly_alone", _("Elderly living alone")
    PREGNANT = "pregnant", _("Pregnant")
    DIALYSIS = "dialysis", _("Dialysis")
    DISABLED = "disabled", _("Disabled")
    INFANT = "infant", _("Infant")
    NO_SMARTPHONE = "no_smartphone", _("No smartphone")


class Household(models.Model):
    """A family household (家庭户) living at one dwelling."""

    jurisdiction_path = "area_path"
    field_sensitivity = {
        "id": PUB,
        "dwelling": P,
        "area_path": P,
        "address_building": P,
        "address_dwelling": P,
        "head": P,
        "created_at": PUB,
        "updated_at": PUB,
    }

    dwelling = models.ForeignKey(
        Area, on_delete=models.PROTECT, related_name="households", verbose_name=_("dwelling")
    )
    area_path = models.CharField(max_length=64, db_index=True, editable=False)
    address_building = models.CharField(_("compound and building"), max_length=120)
    address_dwelling = models.CharField(_("unit and dwelling"), max_length=60)
    head = models.ForeignKey(
        "Person",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("head of household"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["area_path", "id"]

    def __str__(self) -> str:
        return f"{self.address_building}{self.address_dwelling}"


class Person(models.Model):
    """A resident. Identifiers are stored sealed (see linli.core.identifiers)."""

    jurisdiction_path = "area_path"
    field_sensitivity = {
        "id": PUB,
        "name": P,
        "sex": P,
        "birth_date": P,
        "id_number_encrypted": ID,
        "id_number_hash": ID,
        "id_number_masked": ID,
        "phone_encrypted": ID,
        "phone_hash": ID,
        "phone_masked": ID,
        "phone_tail": ID,
        "residency": P,
        "has_smartphone": P,
        "dwelling": P,
        "area_path": P,
        "address_building": P,
        "address_dwelling": P,
        "household": P,
        "relation_to_head": P,
        "created_at": PUB,
        "updated_at": PUB,
    }

    name = models.CharField(_("name"), max_length=60, db_index=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    id_number_encrypted = models.TextField(blank=True, editable=False)
    id_number_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=18, blank=True)
    phone_encrypted = models.TextField(blank=True, editable=False)
    phone_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=16, blank=True)
    phone_tail = models.CharField(max_length=4, blank=True, db_index=True, editable=False)
    residency = models.CharField(
        _("residency"), max_length=16, choices=Residency.choices, default=Residency.REGISTERED
    )
    has_smartphone = models.BooleanField(_("has a smartphone"), default=True)
    dwelling = models.ForeignKey(
        Area,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="residents",
        verbose_name=_("dwelling"),
    )
    area_path = models.CharField(max_length=64, db_index=True, editable=False)
    address_building = models.CharField(_("compound and building"), max_length=120, blank=True)
    address_dwelling = models.CharField(_("unit and dwelling"), max_length=60, blank=True)
    household = models.ForeignKey(
        Household,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
        verbose_name=_("household"),
    )
    relation_to_head = models.CharField(
        _("relation to head"), max_length=20, choices=Relation.choices, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"person {self.pk}"

    @property
    def address(self) -> str:
        return f"{self.address_building}{self.address_dwelling}"


class PersonTag(models.Model):
    """A vulnerable-group tag (重点人群) on a person: health data, class `sensitive`."""

    field_sensitivity = {"id": PUB, "person": P, "tag": S, "area_path": P, "created_at": PUB}
    jurisdiction_path = "area_path"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="tags")
    tag = models.CharField(_("tag"), max_length=20, choices=VulnerableTag.choices)
    area_path = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("vulnerable tag")
        verbose_name_plural = _("vulnerable tags")
        constraints = [
            models.UniqueConstraint(fields=["person", "tag"], name="persontag_person_tag_unique")
        ]
        indexes = [models.Index(fields=["tag", "area_path"], name="persontag_tag_path")]

    def __str__(self) -> str:
        return self.tag
