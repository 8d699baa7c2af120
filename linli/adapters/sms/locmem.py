"""A backend for tests: keeps messages in memory, in linli.adapters.sms.outbox."""

import uuid

from linli.adapters import sms
from linli.adapters.sms.base import BaseSmsBackend
from linli.adapters.sms.message import SmsMessage, SmsResult


class LocmemBackend(BaseSmsBackend):
    """Appends each message to `linli.adapters.sms.outbox` and accepts it.

    Like Django's locmem e-mail backend: a test sends, then reads `sms.outbox` (SmsMessage
    objects, oldest first). Provider ids are "locmem-<hex>".
    """

    def send_messages(self, messages: list[SmsMessage]) -> list[SmsResult]:
        """Appends the messages to the outbox; returns an accepted result for each."""
        sms.outbox.extend(messages)
        return [
            message.result(accepted=True, provider_id=f"locmem-{uuid.uuid4().hex}")
            for message in messages
        ]
