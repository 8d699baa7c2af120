"""Channels: every way of reaching a target keeps the same contract.

- `send(target)` starts contact where the channel starts it: an SMS carrying an H5 link, a
  call placed by the dialer. A door knock starts when the worker walks up, so it sends nothing.
- `collect(...)` records an attempt's outcome and answers. It is always
  `services.attempts.record_attempt`, so status, answer merging, risk, escalation for help and
  idempotency are decided in one place whatever the channel.
- `reachable()` says who the channel can reach at all (a condition over Person); a person no
  remote channel of the campaign reaches goes straight to the door-knock list.

Channels are looked up by code in a registry. The phone robot (linli.voice, a layer above)
registers its own subclass of PhoneChannel with `register()` in its AppConfig.ready(); nothing
here changes when it arrives.

H5Channel.send texts a signed, expiring per-person link (the target's id, a purpose, an
expiry) through the SMS adapter (linli.adapters.sms: console/file backend by default, HTTP
gateway configurable); linli.screening.h5 holds the links, services.links the sending. The
mobile page
calls `collect` once per saved answer with a client-generated idempotency key, and
`by_proxy=True` when a family member answers.

Left for the pages session:
- The door-knock page: lists come from selectors.door_knock_list; its form calls
  DoorKnockChannel.collect with the worker as `by` and a key generated on the phone, so a
  submission queued offline and replayed later counts once.
"""

from abc import ABC
from datetime import datetime
from typing import ClassVar

from django.db.models import Q
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from linli.core.actors import Actor, AuditContext
from linli.screening.contact import CHANNEL_OUTCOMES, REMOTE_CHANNELS, Dispatch, reachable_by
from linli.screening.models import CampaignTarget, ChannelCode
from linli.screening.services import attempts as attempt_services
from linli.screening.services import links as link_services


class Channel(ABC):
    """The contract every channel implements (see the module docstring)."""

    code: ClassVar[str]
    label: ClassVar[str | Promise]
    # Reaches a person without a worker at their door (counts for escalation).
    remote: ClassVar[bool]
    # Outcomes this channel can report (a door knock has no wrong number, a call no
    # "not at home").
    outcomes: ClassVar[frozenset[str]]

    def reachable(self) -> Q:
        """Returns the condition (over Person) for people this channel can reach at all."""
        return reachable_by(self.code)

    def send(self, *, target: CampaignTarget) -> Dispatch | None:
        """Starts contact with the target. Returns what was started, or None when the channel
        has nothing to send. Raises NotImplementedError where the sending side is not built."""
        raise NotImplementedError(f"channel {self.code} does not send yet")

    def collect(
        self,
        *,
        target: CampaignTarget,
        outcome: str,
        answers: dict[str, object] | None = None,
        by: Actor | None = None,
        idempotency_key: str | None = None,
        by_proxy: bool = False,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
        detail: dict | None = None,
        context: AuditContext | None = None,
        refuse_changed_retry: bool = False,
    ) -> attempt_services.RecordedAttempt:
        """Records one attempt through this channel (services.attempts.record_attempt)."""
        return attempt_services.record_attempt(
            target=target,
            channel=self.code,
            outcome=outcome,
            answers=answers,
            by=by,
            idempotency_key=idempotency_key,
            by_proxy=by_proxy,
            started_at=started_at,
            finished_at=finished_at,
            detail=detail,
            context=context,
            refuse_changed_retry=refuse_changed_retry,
        )


class H5Channel(Channel):
    """A signed link by SMS to a mobile page; needs a phone and a smartphone to open it."""

    code = ChannelCode.H5.value
    label = _("H5 link (SMS)")
    remote = ChannelCode.H5 in REMOTE_CHANNELS
    outcomes = CHANNEL_OUTCOMES[ChannelCode.H5]

    def send(self, *, target: CampaignTarget) -> Dispatch | None:
        """Texts the target their signed link (linli.screening.h5.send_link): None when
        there is nothing to send (reached, refused, texted recently or too often, no phone
        or smartphone, a campaign not running) or the gateway refused the message."""
        return link_services.send_link(target)


class PhoneChannel(Channel):
    """The phone robot: reaches anyone with a phone. linli.voice registers a subclass whose
    send() queues the call; until then nothing is dialled."""

    code = ChannelCode.PHONE.value
    label = _("Phone robot")
    remote = ChannelCode.PHONE in REMOTE_CHANNELS
    outcomes = CHANNEL_OUTCOMES[ChannelCode.PHONE]


class DoorKnockChannel(Channel):
    """A grid worker at the door: reaches anyone with a dwelling. Sends nothing (the household
    appears on the worker's list); the page records what happened through collect()."""

    code = ChannelCode.DOOR_KNOCK.value
    label = _("Door knock")
    remote = ChannelCode.DOOR_KNOCK in REMOTE_CHANNELS
    outcomes = CHANNEL_OUTCOMES[ChannelCode.DOOR_KNOCK]

    def send(self, *, target: CampaignTarget) -> Dispatch | None:
        return None


_REGISTRY: dict[str, Channel] = {}


def register(channel: Channel) -> None:
    """Registers a channel under its code, replacing the one registered before (a higher app
    replaces the default PhoneChannel with the real dialer)."""
    if channel.code not in ChannelCode.values:
        raise ValueError(f"unknown channel code {channel.code!r}")
    _REGISTRY[channel.code] = channel


def get_channel(code: str) -> Channel:
    """Returns the registered channel. Raises LookupError for an unknown code."""
    try:
        return _REGISTRY[code]
    except KeyError:
        raise LookupError(f"no channel {code!r}") from None


def registered_channels() -> list[Channel]:
    return [_REGISTRY[code] for code in ChannelCode.values if code in _REGISTRY]


for _channel in (H5Channel(), PhoneChannel(), DoorKnockChannel()):
    register(_channel)
