"""Notification channels: every way an escalation reaches a person, behind one contract.

The bell (a Notification row per recipient) is written by the sweep itself, in the
transaction that records the notice, so it can never be lost or doubled. Every other channel
is registered here and sends after the sweep commits, from NoticeDelivery rows:

- `sms`: the recipient's work phone, through linli.adapters.sms;
- `webhook`: one post per notice to the group robot (linli.adapters.webhooks);
- the phone robot's call (C4, with a one-key acknowledgement) is registered by linli.voice,
  a layer above, in its AppConfig.ready():

      register_channel(RobotCallChannel())   # code "robot_call", reaches() a work phone

  its send() queues the calls; the key press calls services.orders.acknowledge_work_order
  with the recipient as `by` and via="phone".

A channel says whom it reaches (`reaches`) and sends a batch (`send`), returning one
(sent, error) pair per outgoing notice; it never raises for a refusal.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from linli.adapters import sms, webhooks
from linli.core.phones import InvalidPhone


@dataclass(frozen=True)
class Recipient:
    user_id: int
    username: str
    phone: str  # the work phone, "" when none


@dataclass(frozen=True)
class Outgoing:
    """One notice going out through one channel (to one recipient, or to a group)."""

    delivery_id: int
    order_id: int
    text: str  # Chinese: staff phones and group chats have no language setting
    recipient: Recipient | None
    data: dict


class NotificationChannel(ABC):
    code: ClassVar[str]
    label: ClassVar[str | Promise]
    # True: one delivery per recipient; False: one per notice (a group chat).
    per_recipient: ClassVar[bool] = True

    def reaches(self, recipient: Recipient) -> bool:
        """Returns whether this channel can reach the recipient at all."""
        return True

    @abstractmethod
    def send(self, batch: list[Outgoing]) -> list[tuple[bool, str]]:
        """Sends the batch; returns (sent, error) per item, in order."""


class SmsChannel(NotificationChannel):
    code = "sms"
    label = _("SMS")

    def reaches(self, recipient: Recipient) -> bool:
        return bool(recipient.phone)

    def send(self, batch: list[Outgoing]) -> list[tuple[bool, str]]:
        outcomes: list[tuple[bool, str]] = []
        with sms.get_backend() as backend:
            for item in batch:
                phone = item.recipient.phone if item.recipient else ""
                try:
                    message = sms.SmsMessage(
                        to=phone,
                        text=item.text,
                        reference=f"work-order-delivery:{item.delivery_id}",
                    )
                except (InvalidPhone, ValueError) as exc:
                    outcomes.append((False, str(exc)[:200]))
                    continue
                result = backend.send_messages([message])[0]
                outcomes.append((result.accepted, (result.error or "")[:200]))
        return outcomes


class WebhookChannel(NotificationChannel):
    code = "webhook"
    label = _("Group robot (webhook)")
    per_recipient = False

    def send(self, batch: list[Outgoing]) -> list[tuple[bool, str]]:
        messages = [
            webhooks.WebhookMessage(
                text=item.text, reference=f"work-order-delivery:{item.delivery_id}", data=item.data
            )
            for item in batch
        ]
        with webhooks.get_backend() as backend:
            results = backend.send_messages(messages)
        return [(result.accepted, result.error[:200]) for result in results]


_CHANNELS: dict[str, NotificationChannel] = {}


def register_channel(channel: NotificationChannel) -> None:
    """Registers a channel under its code (a later registration replaces an earlier one)."""
    _CHANNELS[channel.code] = channel


def get_channel(code: str) -> NotificationChannel:
    """Returns a registered channel. Raises LookupError for an unknown code."""
    try:
        return _CHANNELS[code]
    except KeyError:
        raise LookupError(f"no notification channel {code!r}") from None


def registered_channels() -> list[NotificationChannel]:
    return [_CHANNELS[code] for code in sorted(_CHANNELS)]


for _channel in (SmsChannel(), WebhookChannel()):
    register_channel(_channel)
