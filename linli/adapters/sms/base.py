"""The interface every SMS backend implements."""

from types import TracebackType
from typing import Self

from linli.adapters.sms.message import SmsMessage, SmsResult


class BaseSmsBackend:
    """Base class for SMS backends, shaped like Django's BaseEmailBackend.

    A subclass takes its options as keyword arguments (falling back to settings), passes the
    rest to this constructor, and implements send_messages(). Unknown options raise TypeError,
    so a misspelt option fails loudly instead of being ignored.

    send_messages() returns one SmsResult per message, in order. A message the backend or its
    gateway refuses, or cannot reach, gives a result with accepted=False and an error; it does
    not raise, so one bad number never hides the outcome of the others. Backends raise only
    for a configuration that cannot work (ImproperlyConfigured, when they are created).
    """

    def __init__(self, **options: object) -> None:
        if options:
            names = ", ".join(sorted(options))
            raise TypeError(f"{type(self).__name__} got unexpected options: {names}")

    def open(self) -> None:
        """Opens a long-lived connection if the backend has one; the default does nothing."""

    def close(self) -> None:
        """Closes what open() opened; the default does nothing."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def send_messages(self, messages: list[SmsMessage]) -> list[SmsResult]:
        """Sends the messages; returns one SmsResult per message, in the same order."""
        raise NotImplementedError("subclasses of BaseSmsBackend must implement send_messages()")
