from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from linli.areas.models import AreaLevel
from linli.registry.importing.records import FIELDS
from linli.registry.models import Residency, SourceKind, VulnerableTag
from linli.registry.services.people import REVEALABLE_FIELDS


class PersonSearchForm(forms.Form):
    q = forms.CharField(label=_("Name, address, phone or ID number"), max_length=50, required=False)
    # id_number and phone are no longer on the page (the box reads both); they stay accepted
    # for links made before the box did.
    id_number = forms.CharField(
        label=_("ID number (full, masked or last 4)"), max_length=24, required=False
    )
    phone = forms.CharField(label=_("Phone or its last 4 digits"), max_length=20, required=False)
    tag = forms.ChoiceField(
        label=_("Vulnerable group"),
        choices=[("", _("All")), *VulnerableTag.choices],
        required=False,
    )
    residency = forms.ChoiceField(
        label=_("Residency"), choices=[("", _("All")), *Residency.choices], required=False
    )
    area = forms.IntegerField(required=False, widget=forms.HiddenInput)
    id_key = forms.RegexField(regex=r"^[0-9a-f]{64}$", required=False, widget=forms.HiddenInput)
    phone_key = forms.RegexField(regex=r"^[0-9a-f]{64}$", required=False, widget=forms.HiddenInput)


class HouseholdSearchForm(forms.Form):
    q = forms.CharField(label=_("Address or head of household"), max_length=50, required=False)
    area = forms.IntegerField(required=False, widget=forms.HiddenInput)


class RevealForm(forms.Form):
    field = forms.ChoiceField(choices=[(f, f) for f in REVEALABLE_FIELDS])
    purpose = forms.ChoiceField(
        label=_("Purpose"),
        choices=lambda: [("", _("Choose a purpose…")), *settings.LINLI_REVEAL_PURPOSES],
        error_messages={"required": _("State a purpose to see the full value.")},
    )


FIELD_LABELS = {
    "": _("— ignore —"),
    "name": _("Name"),
    "id_number": _("ID number"),
    "phone": _("Phone"),
    "address": _("Whole address"),
    "compound": _("Compound"),
    "building": _("Building"),
    "unit": _("Unit"),
    "room": _("Room"),
    "sex": _("Sex"),
    "birth_date": _("Birth date"),
    "residency": _("Residency"),
    "relation": _("Relation to head"),
    "household_number": _("Household number"),
    "dwelling": _("Address"),  # a person's field (their page), never a column of a file
}

COLUMN_FIELDS = ("", *FIELDS)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
EMPTY_FILE = _("the file is empty")
FILE_TOO_LARGE = _("The file is larger than 50 MB.")
WRONG_FILE_TYPE = _("Only CSV and XLSX files can be imported.")


def import_area_label(area) -> str:
    """Names a community, or a grid with its community: every community has a 第一网格."""
    if area.level == AreaLevel.GRID and area.parent is not None:
        return f"{area.parent.name} · {area.name}"
    return area.name


class UploadForm(forms.Form):
    area = forms.ModelChoiceField(queryset=None, label=_("Import into"))
    source_name = forms.CharField(
        label=_("Source"), max_length=80, help_text=_("e.g. 物业 翠华小区 业主名单")
    )
    source_kind = forms.ChoiceField(label=_("Kind of source"), choices=SourceKind.choices)
    # Empty files are refused in clean_file, in both languages like every other refusal of a
    # file (Django's own message would be in one).
    file = forms.FileField(label=_("File (CSV or XLSX)"), allow_empty_file=True)

    def __init__(self, *args, areas=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = areas
        self.fields["area"].label_from_instance = import_area_label

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # The page speaks the reader's language; the CLI (link) says it in both.
        if not upload.size:
            raise forms.ValidationError(EMPTY_FILE)
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(FILE_TOO_LARGE)
        if not upload.name.lower().endswith((".csv", ".txt", ".xlsx")):
            raise forms.ValidationError(WRONG_FILE_TYPE)
        return upload


def mapping_form(headers: list[str], mapping: dict[str, str], data=None) -> forms.Form:
    """A form with one select per column of the file, preset with the suggested field."""
    # Only what a column can hold: "dwelling" (住址) beside "address" read as one target twice.
    choices = [(key, label) for key, label in FIELD_LABELS.items() if key in COLUMN_FIELDS]
    fields = {
        f"col{i}": forms.ChoiceField(
            label=header,
            choices=choices,
            required=False,
            initial=mapping.get(header, ""),
            # The reason Linli gives for the column is shown under it (import_detail.html).
            widget=forms.Select(attrs={"aria-describedby": f"reason-col{i}"}),
        )
        for i, header in enumerate(headers)
    }
    form_class = type("MappingForm", (forms.Form,), fields)
    return form_class(data)


def mapping_from(form: forms.Form, headers: list[str]) -> dict[str, str]:
    return {header: form.cleaned_data.get(f"col{i}", "") for i, header in enumerate(headers)}


PLACE_PREFIX = "place:"


def placements_from(data) -> dict[str, str]:
    """Returns the preview's choices of areas, {compound key: choice}, from its selects named
    "place:<compound key>" (checked by the service that takes them)."""
    return {
        key.removeprefix(PLACE_PREFIX): value[:20]
        for key, value in data.items()
        if key.startswith(PLACE_PREFIX) and key != PLACE_PREFIX
    }


class DecisionForm(forms.Form):
    same_person = forms.TypedChoiceField(
        choices=[("yes", _("Same person: merge")), ("no", _("Different people"))],
        coerce=lambda v: v == "yes",
    )


class ChooseValueForm(forms.Form):
    field = forms.CharField(max_length=20)
    record = forms.IntegerField()


class HouseholdChangeForm(forms.Form):
    person = forms.IntegerField()
    action = forms.ChoiceField(choices=[("make_head", "make_head"), ("split", "split")])
