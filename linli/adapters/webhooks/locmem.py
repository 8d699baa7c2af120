"""A backend for tests: keeps messages in linli.adapters.webhooks.outbox."""

import uuid

from linli.adapters import webhooks
from linli.adapters.webhooks.base import BaseWebhookBackend, WebhookMessage, WebhookResult


class LocmemBackend(BaseWebhookBackend):
    def send_messages(self, messages: list[WebhookMessage]) -> list[WebhookResult]:
        """Appends the messages to the outbox; accepts each."""
        webhooks.outbox.extend(messages)
        return [
            WebhookResult(m.reference, accepted=True, provider_id=f"locmem-{uuid.uuid4().hex}")
            for m in messages
        ]
