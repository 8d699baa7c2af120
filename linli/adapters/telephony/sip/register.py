"""Registration (RFC 3261 §10) for trunks that only take calls from a registered account:
REGISTER with digest credentials, refreshed before it expires, removed (Expires: 0) on close."""

import asyncio
import contextlib
import logging

from .digest import DigestError, authorization, parse_challenge
from .message import SipMessage, header_params, new_branch, new_call_id, new_tag
from .transport import Address, NonInviteClientTransaction, SipTransport, wait_final

logger = logging.getLogger("linli.adapters.telephony.sip")


class Registration:
    def __init__(
        self,
        transport: SipTransport,
        registrar: Address,
        *,
        domain: str,
        user: str,
        contact_user: str,
        username: str,
        password: str,
        expires: int,
        user_agent: str,
    ) -> None:
        self.transport = transport
        self.registrar = registrar
        self.domain = domain
        self.aor = f"sip:{user}@{domain}"
        host = transport.local_host
        self.contact = f"<sip:{contact_user}@{host}:{transport.local_port}>"
        self.username = username
        self.password = password
        self.expires = expires
        self.user_agent = user_agent
        self.call_id = new_call_id(host)  # one Call-ID for all REGISTERs of this binding
        self.tag = new_tag()
        self.cseq = 0
        self.granted = 0  # seconds the registrar granted at the last success; 0: not registered
        self.last_status: int | None = None
        self._task: asyncio.Task | None = None

    @property
    def registered(self) -> bool:
        return self.granted > 0

    async def register(self, expires: int | None = None) -> bool:
        """One REGISTER (with a digest answer when challenged); True when the registrar said
        2xx."""
        expires = self.expires if expires is None else expires
        header: tuple[str, str] | None = None
        for _attempt in range(3):
            request = self._request(expires, header)
            response = await wait_final(
                NonInviteClientTransaction(self.transport, request, self.registrar).start()
            )
            self.last_status = response.status if response is not None else None
            if response is None:
                logger.warning("REGISTER to %s:%s: no response", *self.registrar)
                return False
            if 200 <= response.status < 300:
                self.granted = self._granted(response, expires) if expires else 0
                logger.info("registered at %s:%s for %s s", *self.registrar, self.granted)
                return True
            if response.status in (401, 407) and self.username and header is None:
                header = self._authorization(response, request.uri)
                if header is not None:
                    continue
            logger.warning("REGISTER refused: %s %s", response.status, response.reason)
            return False
        return False

    def start(self) -> None:
        self._task = asyncio.create_task(self._refresh())

    async def _refresh(self) -> None:
        while True:
            # Refresh well before expiry; retry soon after a failure.
            delay = max(5.0, self.granted * 0.8) if self.registered else 30.0
            await asyncio.sleep(delay)
            with contextlib.suppress(OSError):
                await self.register()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.registered:
            with contextlib.suppress(OSError):
                await self.register(expires=0)
            self.granted = 0

    def _request(self, expires: int, header: tuple[str, str] | None) -> SipMessage:
        self.cseq += 1
        request = SipMessage(method="REGISTER", uri=f"sip:{self.domain}")
        host = self.transport.local_host
        request.add(
            "Via", f"SIP/2.0/UDP {host}:{self.transport.local_port};branch={new_branch()};rport"
        )
        request.add("Max-Forwards", "70")
        request.add("From", f"<{self.aor}>;tag={self.tag}")
        request.add("To", f"<{self.aor}>")
        request.add("Call-ID", self.call_id)
        request.add("CSeq", f"{self.cseq} REGISTER")
        request.add("Contact", self.contact)
        request.add("Expires", str(expires))
        if header is not None:
            request.add(*header)
        request.add("User-Agent", self.user_agent)
        return request

    def _authorization(self, response: SipMessage, uri: str) -> tuple[str, str] | None:
        proxy = response.status == 407
        value = response.get("Proxy-Authenticate" if proxy else "WWW-Authenticate")
        try:
            header = authorization(
                parse_challenge(value),
                method="REGISTER",
                uri=uri,
                username=self.username,
                password=self.password,
            )
        except DigestError as exc:
            logger.warning("cannot answer the registrar's challenge: %s", exc)
            return None
        return ("Proxy-Authorization" if proxy else "Authorization", header)

    def _granted(self, response: SipMessage, asked: int) -> int:
        for contact in response.get_all("Contact"):
            value = header_params(contact).get("expires", "")
            if value.isdigit():
                return int(value)
        value = response.get("Expires")
        return int(value) if value.isdigit() else asked
