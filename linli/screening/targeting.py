"""Who a campaign targets: an area subtree narrowed by filters, kept as JSON on the campaign.

The same function picks the people for the preview (counts) and for the launch (rows), so
what the lead was shown is what gets materialised.
"""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from linli.areas.models import Area
from linli.registry.models import Person, PersonTag, Residency, VulnerableTag
from linli.screening.models import TargetUnit


@dataclass(frozen=True)
class TargetFilters:
    """Filters over the current (not merged) residents of the campaign's area subtree.

    Empty lists mean "any". `residency` e.g. ["floating"] for an arrivals screening;
    `tags` keeps people with any of the vulnerable tags; `no_smartphone` keeps only people
    without a smartphone (the flag on the file or the no_smartphone tag); `unit` "household"
    targets one person per household (its head when the head matches, otherwise the matching
    member registered first).
    """

    residency: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    no_smartphone: bool = False
    unit: str = TargetUnit.PERSON

    @classmethod
    def from_json(cls, data: dict | None) -> "TargetFilters":
        """Returns the filters stored as JSON. Raises ValidationError (bilingual, by field) on
        unknown values, so a bad form field is answered at the field."""
        data = data or {}
        if not isinstance(data, dict):
            raise ValidationError(_("Bad target filters"))
        errors: dict[str, str] = {}
        residency = _codes(data.get("residency"))
        if any(r not in Residency.values for r in residency):
            errors["residency"] = _("Unknown residency")
        tags = _codes(data.get("tags"))
        if any(t not in VulnerableTag.values for t in tags):
            errors["tags"] = _("Unknown vulnerable tag")
        no_smartphone = data.get("no_smartphone", False)
        if not isinstance(no_smartphone, bool):
            errors["no_smartphone"] = _("Must be true or false")
        unit = data.get("unit") or TargetUnit.PERSON
        if unit not in TargetUnit.values:
            errors["unit"] = _("Unknown target unit")
        unknown = set(data) - {"residency", "tags", "no_smartphone", "unit"}
        if unknown:
            errors["target_filters"] = _("Unknown filters: %(names)s") % {
                "names": ", ".join(sorted(unknown))
            }
        if errors:
            raise ValidationError(errors)
        return cls(residency=residency, tags=tags, no_smartphone=no_smartphone, unit=unit)

    def to_json(self) -> dict[str, Any]:
        return {
            "residency": list(self.residency),
            "tags": list(self.tags),
            "no_smartphone": self.no_smartphone,
            "unit": self.unit,
        }

    @property
    def per_household(self) -> bool:
        return self.unit == TargetUnit.HOUSEHOLD


def _codes(value: object) -> tuple:
    """A single code may be given as a string (a form's one choice), a list as a list."""
    if value is None or value == "":
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def without_smartphone() -> Q:
    """Returns the condition for people who cannot open an H5 link."""
    tagged = PersonTag.objects.filter(person=OuterRef("pk"), tag=VulnerableTag.NO_SMARTPHONE)
    return Q(has_smartphone=False) | Q(Exists(tagged))


def matching_people(people: QuerySet[Person], area: Area, filters: TargetFilters):
    """Returns the current people of `people` in the area's subtree matching the filters (one
    row per person: tag filters use EXISTS, never a join that repeats people)."""
    people = people.filter(merged_into__isnull=True, area_path__startswith=area.path)
    if filters.residency:
        people = people.filter(residency__in=filters.residency)
    if filters.tags:
        tagged = PersonTag.objects.filter(person=OuterRef("pk"), tag__in=filters.tags)
        people = people.filter(Exists(tagged))
    if filters.no_smartphone:
        people = people.filter(without_smartphone())
    return people
