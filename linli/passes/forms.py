"""Forms of the lead's passes pages."""

from django import forms
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from linli.passes.models import PassKind


class PolicyForm(forms.Form):
    area = forms.ModelChoiceField(queryset=None, label=_("Area"), empty_label=None)
    name = forms.CharField(label=_("Name"), max_length=60)
    kind = forms.ChoiceField(label=_("Kind"), choices=PassKind.choices)
    valid_from = forms.DateField(
        label=_("First day"), widget=forms.DateInput(attrs={"type": "date"})
    )
    valid_until = forms.DateField(
        label=_("Last day"), widget=forms.DateInput(attrs={"type": "date"})
    )
    one_per_household = forms.BooleanField(
        label=_("One pass per household"), required=False, initial=True
    )
    out_every_days = forms.IntegerField(
        label=_("One exit every (days, 0: no rule)"), min_value=0, max_value=255, initial=0
    )
    out_max_hours = forms.IntegerField(
        label=_("At most hours out (0: no rule)"), min_value=0, max_value=255, initial=0
    )
    medical_weekdays = forms.TypedMultipleChoiceField(
        label=_("Days (medical passes)"),
        choices=[(day, WEEKDAYS[day]) for day in range(7)],
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    medical_from_hour = forms.IntegerField(
        label=_("From hour"), min_value=0, max_value=24, initial=0
    )
    medical_to_hour = forms.IntegerField(label=_("To hour"), min_value=0, max_value=24, initial=0)

    def __init__(self, *args: object, areas: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["area"].queryset = areas  # type: ignore[attr-defined]

    def service_arguments(self) -> dict[str, object]:
        """Returns the cleaned data as create_policy's keyword arguments."""
        data = dict(self.cleaned_data)
        data["medical_weekdays"] = sum(1 << day for day in data["medical_weekdays"])
        return data


class RevokeForm(forms.Form):
    note = forms.CharField(label=_("Reason"), max_length=200, required=False)
