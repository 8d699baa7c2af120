"""The default backend: prints each message instead of sending it."""

import sys
import threading
import uuid
from typing import TextIO

from django.utils import timezone

from linli.adapters.sms.base import BaseSmsBackend
from linli.adapters.sms.message import SmsMessage, SmsResult

# One lock for every instance: send_sms() makes a backend per call, and messages sent from
# several threads at once must not interleave on the shared stream.
_write_lock = threading.Lock()


class ConsoleBackend(BaseSmsBackend):
    """Writes each message, with its full number and text, to a stream (stdout by default).

    For development and the embedded mode, where whoever runs the server reads the links on
    the console. Every message is accepted with a provider id "console-<hex>". The full number
    and text are printed because that is the point of this backend; production configures a
    real gateway (the system check linli.W050 warns when it does not).
    """

    def __init__(self, *, stream: TextIO | None = None, **options: object) -> None:
        super().__init__(**options)
        self.stream = stream

    def send_messages(self, messages: list[SmsMessage]) -> list[SmsResult]:
        """Writes the messages as one block and returns an accepted result for each."""
        results: list[SmsResult] = []
        blocks: list[str] = []
        sent_at = timezone.localtime().isoformat(timespec="seconds")
        for message in messages:
            provider_id = f"console-{uuid.uuid4().hex}"
            blocks.append(
                f"---------- SMS {provider_id} ----------\n"
                f"To: {message.to}\n"
                f"Reference: {message.reference}\n"
                f"Segments: {message.segments}\n"
                f"Sent: {sent_at}\n"
                f"\n{message.text}\n"
                f"{'-' * 60}\n"
            )
            results.append(message.result(accepted=True, provider_id=provider_id))
        if blocks:
            # Resolved at send time so a stream replaced after start-up (tests, log
            # redirection) is honoured.
            stream = self.stream or sys.stdout
            with _write_lock:
                stream.write("".join(blocks))
                stream.flush()
        return results
