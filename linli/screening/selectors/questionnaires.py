"""Questionnaires and their versions, fetched and authorized for the acting user."""

from dataclasses import dataclass

from django.db.models import (
    QuerySet,
)
from django.http import Http404

from linli.core.actors import Actor
from linli.screening.models import (
    Campaign,
    Questionnaire,
    QuestionnaireVersion,
)
from linli.screening.roles import require_browse
from linli.screening.selectors import campaigns as campaign_selectors

# ---------------------------------------------------------------------------------------------
# Questionnaires


def questionnaires_for(user: Actor) -> QuerySet[Questionnaire]:
    """Returns the questionnaires of the user's areas and of the areas above them."""
    require_browse(user)
    return Questionnaire.objects.visible_to(user).select_related("area").order_by("-updated_at")


def questionnaire_for(user: Actor, questionnaire_id: int) -> Questionnaire:
    """Returns the questionnaire if visible to the user. Raises Http404 or PermissionDenied."""
    questionnaire = questionnaires_for(user).filter(pk=questionnaire_id).first()
    if questionnaire is None:
        raise Http404("questionnaire not found")
    return questionnaire


def latest_version(questionnaire: Questionnaire) -> QuestionnaireVersion:
    """Returns the newest version (every questionnaire has version 1 from its creation)."""
    return questionnaire.versions.order_by("-number")[:1].get()


def versions_of(user: Actor, questionnaire: Questionnaire) -> QuerySet[QuestionnaireVersion]:
    require_browse(user)
    return QuestionnaireVersion.objects.visible_to(user).filter(questionnaire=questionnaire)


# ---------------------------------------------------------------------------------------------
# Set-up pages: the questionnaire list and the campaign form


@dataclass(frozen=True)
class QuestionnaireSummary:
    """A questionnaire as the list shows it: its newest version and the campaigns run with any
    of its versions (newest first)."""

    questionnaire: Questionnaire
    latest: QuestionnaireVersion | None
    campaigns: list[Campaign]

    @property
    def frozen(self) -> bool:
        return self.latest is not None and self.latest.is_frozen


def questionnaire_summaries(user: Actor) -> list[QuestionnaireSummary]:
    """Returns the user's questionnaires with their newest version and the campaigns using
    them, in three queries whatever their number."""
    questionnaires = list(questionnaires_for(user))
    ids = [q.pk for q in questionnaires]
    latest: dict[int, QuestionnaireVersion] = {}
    versions = (
        QuestionnaireVersion.objects.filter(questionnaire_id__in=ids)
        .defer("definition")
        .order_by("questionnaire_id", "-number")
    )
    for version in versions:
        latest.setdefault(version.questionnaire_id, version)
    using: dict[int, list[Campaign]] = {}
    for campaign in campaign_selectors.campaigns_for(user).filter(
        questionnaire_version__questionnaire_id__in=ids
    ):
        using.setdefault(campaign.questionnaire_version.questionnaire_id, []).append(campaign)
    return [QuestionnaireSummary(q, latest.get(q.pk), using.get(q.pk, [])) for q in questionnaires]


def campaigns_using(user: Actor, questionnaire: Questionnaire) -> QuerySet[Campaign]:
    """Returns the campaigns the user sees that run any version of the questionnaire."""
    return campaign_selectors.campaigns_for(user).filter(
        questionnaire_version__questionnaire=questionnaire
    )
