"""The resident's view of their pass: only what the card shows (masked name, building,
rules), and the QR code while the pass is valid."""

from dataclasses import dataclass

from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _

from linli.core.links import InvalidLink
from linli.passes.h5 import pass_id_from_token
from linli.passes.models import Pass, PassPolicy, PassStatus
from linli.passes.qr import qr_svg
from linli.passes.tokens import decode


@dataclass(frozen=True)
class PassCard:
    pass_id: int
    kind: str
    area: str
    masked_name: str
    id_tail: str
    building: str
    rules: list[str]
    valid_from: object
    valid_until: object
    state: str  # "valid", "revoked", "expired", "not_yet_valid"
    revoke_reason: str
    qr: str  # inline SVG; empty unless the pass is valid or about to be


def card_from_token(token: str) -> PassCard:
    """Returns the card of the pass a link names. Raises InvalidLink (also for a pass that
    no longer exists) or ExpiredLink."""
    pass_id = pass_id_from_token(token)
    pass_ = (
        Pass.objects.select_related("policy", "policy__area", "holder", "household")
        .filter(pk=pass_id)
        .first()
    )
    if pass_ is None:
        raise InvalidLink()
    return card_of(pass_)


def card_of(pass_: Pass) -> PassCard:
    """Returns what the pass's card shows (the masked name and the building as its token
    carries them)."""
    claims, _signed, _signature = decode(pass_.token)
    now = timezone.now()
    if pass_.status == PassStatus.REVOKED:
        state = "revoked"
    elif pass_.valid_until <= now:
        state = "expired"
    elif pass_.valid_from > now:
        state = "not_yet_valid"
    else:
        state = "valid"
    return PassCard(
        pass_id=pass_.pk,
        kind=pass_.policy.get_kind_display(),
        area=pass_.policy.area.name,
        masked_name=claims.masked_name,
        id_tail=claims.id_tail,
        building=claims.building,
        rules=rules_of(pass_.policy),
        valid_from=timezone.localtime(pass_.valid_from),
        valid_until=timezone.localtime(pass_.valid_until),
        state=state,
        revoke_reason=pass_.get_revoke_reason_display() if pass_.revoke_reason else "",
        qr=qr_svg(pass_.token) if state in {"valid", "not_yet_valid"} else "",
    )


def rules_of(policy: PassPolicy) -> list[str]:
    """Returns the policy's usage rules as sentences for the resident and the guard."""
    rules = []
    if policy.one_per_household and policy.out_every_days:
        rules.append(
            _("One member of the household may go out once every %(days)s days")
            % {"days": policy.out_every_days}
        )
    elif policy.one_per_household:
        rules.append(_("One member of the household at a time"))
    if policy.out_max_hours:
        rules.append(_("At most %(hours)s hours out each time") % {"hours": policy.out_max_hours})
    if policy.medical_weekdays:
        days = "、".join(
            str(WEEKDAYS[day]) for day in range(7) if policy.medical_weekdays & (1 << day)
        )
        rules.append(_("Days: %(days)s") % {"days": days})
    if (policy.medical_from_hour, policy.medical_to_hour) != (0, 0):
        rules.append(
            _("Hours: %(start)s:00 to %(end)s:00")
            % {"start": policy.medical_from_hour, "end": policy.medical_to_hour}
        )
    return rules
