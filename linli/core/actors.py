"""Who acts, and from where: what services need to know of a user and of a request.

Services never take an `HttpRequest`. They take an `Actor` (a user with a role and a
jurisdiction: `accounts.User` is one, and so is any test double with the same attributes) and,
when the change is audited, an `AuditContext` holding the two facts the audit log keeps about
the request (the client's address, seen through trusted proxies, and its browser). Views build
the context with `AuditContext.from_request`; background tasks and commands pass
`AuditContext.none()` or nothing.
"""

from dataclasses import dataclass
from typing import Any, Protocol, Self, runtime_checkable

from django.http import HttpRequest

from linli.core.proxies import client_address

USER_AGENT_MAX_LENGTH = 300


@runtime_checkable
class Actor(Protocol):
    """A user with a role and a jurisdiction (the paths of the areas they answer for)."""

    pk: Any
    role: str
    is_active: bool
    is_superuser: bool

    @property
    def is_authenticated(self) -> bool: ...

    @property
    def jurisdiction_paths(self) -> tuple[str, ...]: ...

    def get_username(self) -> str: ...


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Where an audited change came from: the client's address and browser, if any."""

    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest | None) -> Self:
        """Returns the context of a web request (empty for None)."""
        if request is None:
            return cls()
        return cls(
            ip_address=client_address(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX_LENGTH],
        )

    @classmethod
    def none(cls) -> Self:
        """Returns the context of work no request started (a task, a command, the dialer)."""
        return cls()
