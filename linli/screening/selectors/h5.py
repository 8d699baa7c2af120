"""The resident's H5 page: what the signed link shows (stages, the next question), read for
the target the token names."""

from dataclasses import dataclass
from datetime import date

from linli.core.clock import local_today
from linli.core.masking import mask_name
from linli.screening.h5 import community_name
from linli.screening.models import (
    CampaignTarget,
    ChannelCode,
    TargetStatus,
)
from linli.screening.questionnaires.routing import next_question, route
from linli.screening.questionnaires.schema import question_map

# ---------------------------------------------------------------------------------------------
# The resident's page


class Stage:
    INTRO = "intro"  # who asks and why; "are you this person, or answering for them?"
    QUESTION = "question"
    DONE = "done"
    REFUSED = "refused"


@dataclass(frozen=True)
class ResidentScreen:
    """What the resident's page shows for a link: only what the person (or the family member
    answering for them) needs, and nothing else of the file."""

    stage: str
    title: str
    intro: str
    closing: str
    sender: str
    masked_name: str
    by_proxy: bool | None  # None until the person said who answers
    question: dict | None = None
    number: int = 0  # the question's place on the path, from 1
    previous: str | None = None  # the question before it on the path
    value: object = None  # the answer saved already, to pre-fill
    first: str | None = None


def _proxy_of_earlier_saves(target: CampaignTarget) -> bool | None:
    """Returns who answered the last H5 save (a reopened link resumes as them), or None."""
    sources = [
        s
        for s in (target.answer_sources or {}).values()
        if isinstance(s, dict) and s.get("channel") == ChannelCode.H5
    ]
    if not sources:
        return None
    return bool(max(sources, key=lambda s: str(s.get("at", ""))).get("proxy"))


def resident_screen(
    target: CampaignTarget,
    *,
    who: str = "",
    asked: str = "",
    stopped: bool = False,
    today: date | None = None,
) -> ResidentScreen:
    """Returns the screen for a link: the intro until the person says who answers (`who`:
    "self" or "proxy", else remembered from earlier saves), then the next unanswered question
    on the branching path (or `asked`, an earlier one on the path, to change it), then the
    closing. Right after a refusal (`stopped`), or when a refusal is all there is, the
    refusal is acknowledged, with a way to answer after all.
    """
    today = today or local_today()
    definition = target.campaign.questionnaire_version.definition
    answers = target.answers or {}
    by_proxy = {"self": False, "proxy": True}.get(who, _proxy_of_earlier_saves(target))
    path = route(definition, answers, today=today)
    common = {
        "title": definition.get("title", ""),
        "intro": definition.get("intro", ""),
        "closing": definition.get("closing", ""),
        "sender": community_name(target.area_path),
        "masked_name": mask_name(target.person.name),
        "by_proxy": by_proxy,
        "first": path[0] if path else None,
    }
    if stopped:
        return ResidentScreen(stage=Stage.REFUSED, **common)
    if by_proxy is None:
        refused = target.status == TargetStatus.REFUSED and target.reached_at is None
        return ResidentScreen(stage=Stage.REFUSED if refused else Stage.INTRO, **common)
    key = asked if asked in path else next_question(definition, answers, today=today)
    if key is None:
        return ResidentScreen(stage=Stage.DONE, **common)
    index = path.index(key)
    return ResidentScreen(
        stage=Stage.QUESTION,
        question=question_map(definition)[key],
        number=index + 1,
        previous=path[index - 1] if index else None,
        value=answers.get(key),
        **common,
    )
