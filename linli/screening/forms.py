"""Forms of the screening set-up pages: starting a questionnaire, saving the builder's JSON,
and a campaign's name, area, target filters, channels and deadline."""

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from linli.registry.models import Residency, VulnerableTag
from linli.screening.channels import PhoneChannel, registered_channels
from linli.screening.models import CampaignStatus, ChannelCode, TargetUnit
from linli.screening.questionnaires.templates import TEMPLATES

BLANK = "blank"
# Big enough for MAX_QUESTIONS long questions with their options and rules; a bigger body is
# not a questionnaire anyone built in the browser.
MAX_DEFINITION_BYTES = 512 * 1024


def area_label(area) -> str:
    return f"{area.name}（{area.get_level_display()}）"


class QuestionnaireCreateForm(forms.Form):
    name = forms.CharField(label=_("Questionnaire name"), max_length=100)
    area = forms.ModelChoiceField(queryset=None, label=_("Owned by"), empty_label=None)
    start = forms.ChoiceField(
        label=_("Start from"),
        choices=lambda: [
            *TEMPLATES.items(),
            (BLANK, _("A blank questionnaire")),
        ],
        initial="arrivals",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, areas=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = areas
        self.fields["area"].label_from_instance = area_label


class DefinitionForm(forms.Form):
    """What the builder posts: the definition as JSON, and the questionnaire's name."""

    name = forms.CharField(label=_("Questionnaire name"), max_length=100)
    definition = forms.CharField(
        label=_("Definition (JSON)"),
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        strip=False,
    )

    def clean_definition(self) -> dict:
        text = self.cleaned_data["definition"]
        if len(text.encode()) > MAX_DEFINITION_BYTES:
            raise forms.ValidationError(_("The questionnaire is too large"))
        try:
            value = json.loads(text)
        except ValueError as error:
            raise forms.ValidationError(
                f"不是有效的JSON（第{error.lineno}行）/ not valid JSON (line {error.lineno})"
            ) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("The definition must be an object"))
        return value


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


def channel_choices() -> list[tuple[str, str]]:
    """The channels registered, the phone robot marked while only its placeholder is."""
    choices = []
    for channel in registered_channels():
        label = str(channel.label)
        if channel.code == ChannelCode.PHONE and type(channel) is PhoneChannel:
            label = _("%(label)s — dials once the phone robot is installed") % {"label": label}
        choices.append((channel.code, label))
    return choices


class TargetForm(forms.Form):
    """Whom a campaign targets and through which channels; also read by the live preview."""

    area = forms.ModelChoiceField(queryset=None, label=_("Area"), empty_label=None)
    residency = forms.MultipleChoiceField(
        label=_("Residency"),
        choices=Residency.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: everybody."),
    )
    tags = forms.MultipleChoiceField(
        label=_("Vulnerable groups"),
        choices=VulnerableTag.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: everybody; several: anyone in one of them."),
    )
    no_smartphone = forms.BooleanField(label=_("Only people without a smartphone"), required=False)
    unit = forms.ChoiceField(
        label=_("Who answers"),
        choices=TargetUnit.choices,
        initial=TargetUnit.PERSON,
        required=False,  # every resident unless told otherwise
        widget=forms.RadioSelect,
    )
    channels = forms.MultipleChoiceField(
        label=_("Channels"),
        choices=channel_choices,
        initial=[ChannelCode.H5, ChannelCode.DOOR_KNOCK],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one channel")},
    )

    def __init__(self, *args, areas=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = areas
        self.fields["area"].label_from_instance = area_label

    def filters(self) -> dict:
        """The target filters as targeting.TargetFilters reads them."""
        data = self.cleaned_data
        return {
            "residency": list(data.get("residency") or []),
            "tags": list(data.get("tags") or []),
            "no_smartphone": bool(data.get("no_smartphone")),
            "unit": data.get("unit") or TargetUnit.PERSON,
        }


class CampaignForm(TargetForm):
    name = forms.CharField(label=_("Campaign name"), max_length=100)
    questionnaire = forms.ModelChoiceField(
        queryset=None,
        label=_("Questionnaire"),
        empty_label=None,
        help_text=_("Its latest version is used; launching freezes it."),
    )
    deadline = forms.DateTimeField(
        label=_("Deadline"),
        required=False,
        widget=DateTimeLocalInput(),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        help_text=_("Whoever is not reached by then goes on the door-knock lists."),
    )
    emergency = forms.CharField(
        label=_("Emergency"),
        max_length=64,
        required=False,
        help_text=_(
            "The emergency the data is collected under (e.g. 2022-01 西安疫情); "
            "everything gathered can be purged by it when it ends."
        ),
    )

    field_order = [
        "name",
        "questionnaire",
        "area",
        "residency",
        "tags",
        "no_smartphone",
        "unit",
        "channels",
        "deadline",
        "emergency",
    ]

    def __init__(self, *args, areas=None, questionnaires=None, **kwargs) -> None:
        super().__init__(*args, areas=areas, **kwargs)
        self.fields["questionnaire"].queryset = questionnaires
        self.fields["questionnaire"].label_from_instance = lambda q: f"{q.name}（{q.area.name}）"


class CampaignRunningForm(forms.Form):
    """What may change once a campaign is launched: its name and deadline."""

    name = forms.CharField(label=_("Campaign name"), max_length=100)
    deadline = CampaignForm.base_fields["deadline"]


STATUS_FILTER_CHOICES = [("", _("All")), *CampaignStatus.choices]


class DoorKnockForm(forms.Form):
    """One door-knock submission, in one shape whether it came as the phone's JSON (api.py) or
    as the page's plain form (views/door_knock.py). The service checks the rest (outcome,
    key, answers against the questionnaire)."""

    target = forms.IntegerField(
        error_messages={"required": _("Choose a resident."), "invalid": _("Choose a resident.")}
    )
    outcome = forms.CharField(required=False, strip=True)
    # Answers by question key: an object in JSON; the plain form's q_<key> fields gathered.
    answers = forms.Field(required=False)
    by_proxy = forms.BooleanField(required=False)
    idempotency_key = forms.CharField(required=False, strip=True)
    recorded_at = forms.DateTimeField(
        required=False, error_messages={"invalid": _("The time is not an ISO date-time.")}
    )
    started_at = forms.DateTimeField(
        required=False, error_messages={"invalid": _("The time is not an ISO date-time.")}
    )
    device = forms.CharField(required=False)
    offline = forms.BooleanField(required=False)

    def clean_answers(self) -> dict:
        answers = self.cleaned_data.get("answers") or {}
        if not isinstance(answers, dict):
            raise forms.ValidationError(_("Answers must be an object"))
        return answers
