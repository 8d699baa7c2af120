from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from linli.registry.models import Residency, VulnerableTag
from linli.registry.services import REVEALABLE_FIELDS


class PersonSearchForm(forms.Form):
    q = forms.CharField(label=_("Name or address"), max_length=50, required=False)
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


class HouseholdSearchForm(forms.Form):
    q = forms.CharField(label=_("Address"), max_length=50, required=False)
    area = forms.IntegerField(required=False, widget=forms.HiddenInput)


class RevealForm(forms.Form):
    field = forms.ChoiceField(choices=[(f, f) for f in REVEALABLE_FIELDS])
    purpose = forms.ChoiceField(
        label=_("Purpose"),
        choices=lambda: [("", _("Choose a purpose…")), *settings.LINLI_REVEAL_PURPOSES],
        error_messages={"required": _("State a purpose to see the full value.")},
    )
