"""H5 links: the signed, expiring per-person token a resident's SMS carries, the URL built
on it, and the SMS text. Sending is services.links; the resident's page reads selectors.h5."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from linli.adapters.sms import count_segments
from linli.areas.models import PATH_SEGMENT_WIDTH, Area, AreaLevel
from linli.core.links import InvalidLink, make_token, read_token
from linli.screening.models import (
    Campaign,
    CampaignTarget,
    TargetStatus,
)

PURPOSE = "screening-h5"
# A link without a campaign deadline works this long (settings.LINLI_H5_LINK_DAYS overrides).
DEFAULT_LINK_DAYS = 7
# Names longer than this are cut in any case; shorter ones are cut further when the whole SMS
# would not fit one segment (see sms_text).
MAX_NAME_IN_SMS = 16
# A Chinese SMS is sent as UCS-2: 70 characters make one segment (linli.adapters.sms).
ONE_SEGMENT = 70
# Who signs the SMS when the campaign lies above any community.
DEFAULT_SENDER = "社区居委会"


# A person is texted again at most this often, and at most MAX_LINKS times per campaign: a
# reminder helps, a flood of texts from the community does not.
RESEND_AFTER = timedelta(hours=12)
MAX_LINKS = 3
# Who may still be texted: nobody reached them and they neither refused nor gave a wrong
# number (those go to the door, not to another SMS).
SENDABLE = (TargetStatus.PENDING, TargetStatus.NO_ANSWER)


# ---------------------------------------------------------------------------------------------
# Links


def link_expiry(campaign: Campaign, *, now: datetime | None = None) -> datetime:
    """Returns when a link sent now stops working: the campaign's deadline when it has one
    still ahead, else DEFAULT_LINK_DAYS from now."""
    now = now or timezone.now()
    if campaign.deadline is not None and campaign.deadline > now:
        return campaign.deadline
    return now + timedelta(days=getattr(settings, "LINLI_H5_LINK_DAYS", DEFAULT_LINK_DAYS))


def token_for(target: CampaignTarget, *, now: datetime | None = None) -> str:
    """Returns the signed token of the target's link (see link_expiry)."""
    now = now or timezone.now()
    return _token(target.pk, expires=link_expiry(target.campaign, now=now), now=now)


def _token(target_id: int, *, expires: datetime, now: datetime) -> str:
    return make_token(purpose=PURPOSE, subject=str(target_id), max_age=expires - now, now=now)


def link_for(target: CampaignTarget, *, now: datetime | None = None, base: str = "") -> str:
    """Returns the target's link: absolute under public_base(base), or relative to the site
    when both are empty."""
    return link_for_token(token_for(target, now=now), base=base)


def link_for_token(token: str, *, base: str = "") -> str:
    """Returns the link of a token (see link_for)."""
    prefix, suffix = _link_parts(base)
    return f"{prefix}{token}{suffix}"


def public_base(fallback: str = "") -> str:
    """Returns the address residents' phones open links on: settings.LINLI_PUBLIC_URL when it
    is set, else `fallback` (the scheme and host of the request that started the send, so a
    `make run PORT=8011` texts links to port 8011). No trailing slash."""
    return (getattr(settings, "LINLI_PUBLIC_URL", "") or fallback).rstrip("/")


def _link_parts(base: str = "") -> tuple[str, str]:
    """Returns what goes before and after the token in a link: the short path /h/<token>,
    which keeps the whole SMS to one segment (the long /screening/h5/<token>/ still works).
    Resolved once per call rather than per token: reverse() costs more than signing."""
    marker = "0"
    path = reverse("h5_short", args=[marker])
    at = path.rindex(marker)
    return public_base(base) + path[:at], path[at + len(marker) :]


def target_id_from_token(token: str, *, now: datetime | None = None) -> int:
    """Returns the target id a token was made for, without touching the database.

    Raises InvalidLink (forged, altered, another purpose) or ExpiredLink."""
    subject = read_token(token, purpose=PURPOSE, now=now)
    if not subject.isdigit():
        raise InvalidLink()
    return int(subject)


def target_from_token(token: str, *, now: datetime | None = None) -> CampaignTarget:
    """Returns the target of a link with its campaign, questionnaire version and person.

    Raises InvalidLink (forged, altered, or the target no longer exists) or ExpiredLink."""
    target_id = target_id_from_token(token, now=now)
    target = (
        CampaignTarget.objects.select_related(
            "campaign__questionnaire_version", "campaign__area", "person"
        )
        .filter(pk=target_id)
        .first()
    )
    if target is None:
        raise InvalidLink()
    return target


def community_name(area_path: str) -> str:
    """Returns the name of the community an area path lies in ("" above communities)."""
    names = _community_names([area_path])
    return next(iter(names.values()), "")


def _ancestor_paths(path: str) -> list[str]:
    step = PATH_SEGMENT_WIDTH + 1
    return [path[: step * i] for i in range(1, len(path) // step + 1)]


def _community_names(paths: Iterable[str]) -> dict[str, str]:
    """Returns {community path: name} for the communities above or at the given paths, and
    below them (a street-wide campaign texts in each resident's own community's name)."""
    wanted: set[str] = set()
    below = Q()
    for path in paths:
        wanted.update(_ancestor_paths(path))
        below |= Q(path__startswith=path)
    rows = Area.objects.filter(Q(path__in=wanted) | below, level=AreaLevel.COMMUNITY)
    return dict(rows.values_list("path", "name"))


def _sender_for(area_path: str, communities: dict[str, str]) -> str:
    for path in _ancestor_paths(area_path):
        if path in communities:
            return communities[path]
    return ""


def _compose(sender: str, name: str, url: str, *, terse: bool = False) -> str:
    if name:
        return f"{sender}请填“{name}”：{url}"
    if terse:
        return f"{sender}问卷：{url}"
    return f"{sender}请填问卷：{url}"


def sms_text(*, sender: str, campaign_name: str, url: str) -> str:
    """Returns the text of a link SMS: who sends it, what to fill in, and the link (last, so
    nothing after it is taken for part of it).

    The whole text is kept to one SMS segment (ONE_SEGMENT characters) by giving up, in
    turn: the end of the campaign's name ("问卷" takes its place once fewer than two
    characters would be left), the word "请填", and the end of the sender's name (never
    below two characters). Only a public address too long for any text makes two segments.
    """
    sender = (sender.strip() or DEFAULT_SENDER)[:MAX_NAME_IN_SMS]
    name = campaign_name.strip()[:MAX_NAME_IN_SMS]
    while name and count_segments(_compose(sender, name, url)) > 1:
        name = name[:-1] if len(name) > 2 else ""
    terse = count_segments(_compose(sender, name, url)) > 1
    while len(sender) > 2 and count_segments(_compose(sender, name, url, terse=terse)) > 1:
        sender = sender[:-1]
    return _compose(sender, name, url, terse=terse)
