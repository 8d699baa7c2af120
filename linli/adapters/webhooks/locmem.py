"""A backend for tests: keeps messages in linli.adapters.webhooks.outbox, and what the HTTP
backend would have posted (URL, body, signature headers) in linli.adapters.webhooks.posts."""

import time
import uuid

from linli.adapters import webhooks
from linli.adapters.webhooks.base import (
    BaseWebhookBackend,
    WebhookMessage,
    WebhookResult,
    json_body,
    signature_headers,
)


class LocmemBackend(BaseWebhookBackend):
    def __init__(
        self, *, url: str = "", secret: str = "", style: str = "json", **options: object
    ) -> None:
        super().__init__(**options)
        self.url, self.secret, self.style = url, secret, style

    def send_messages(self, messages: list[WebhookMessage]) -> list[WebhookResult]:
        """Appends the messages to the outbox (and their signed JSON posts to `posts`);
        accepts each."""
        webhooks.outbox.extend(messages)
        now = time.time()
        for message in messages:
            body = json_body(message)
            headers = signature_headers(self.secret, body, now)
            webhooks.posts.append(webhooks.Post(url=self.url, body=body, headers=headers))
        return [
            WebhookResult(m.reference, accepted=True, provider_id=f"locmem-{uuid.uuid4().hex}")
            for m in messages
        ]
