"""One outgoing call (RFC 3261 §13–15): INVITE with our SDP offer, digest authentication,
early media, CANCEL when nobody answers in time, the ACK of a 2xx, and BYE either way.

The call holds one RTP stream from before the INVITE (its port is in the offer) to the end of
the dialog; an answered call is handed to the dialogue as an RtpCallSession, whose hangup()
comes back here as a BYE, and a BYE from the far end is told to the session.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from linli.adapters.telephony.base import CallRequest, CallSession, CallSetup, outcome_for_status

from . import sdp
from .digest import DigestError, authorization, parse_challenge
from .message import (
    SipMessage,
    header_uri,
    new_branch,
    new_call_id,
    new_tag,
    response_to,
)
from .transport import (
    Address,
    InviteClientTransaction,
    NonInviteClientTransaction,
    SipTransport,
    wait_final,
)

logger = logging.getLogger("linli.adapters.telephony.sip")

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS"


class MediaStream(Protocol):
    """What the signalling needs of linli.adapters.media.rtp.RtpStream."""

    local_host: str
    local_port: int

    def connect(
        self, host: str, port: int, *, payload_type: int = 0, event_payload_type: int | None = 101
    ) -> None: ...

    def before_answer(self) -> None: ...

    def answered(self) -> None: ...

    def close(self) -> None: ...


StreamOpener = Callable[[str], Awaitable[MediaStream]]
SessionFactory = Callable[[Any, Callable[[], Awaitable[None]]], CallSession]


class SipCall:
    def __init__(
        self,
        *,
        transport: SipTransport,
        proxy: Address,
        domain: str,
        from_user: str,
        display_name: str,
        username: str,
        password: str,
        user_agent: str,
        request: CallRequest,
        open_stream: StreamOpener,
        make_session: SessionFactory,
        rtp_host: str,
        on_end: Callable[["SipCall"], None] | None = None,
    ) -> None:
        self.transport = transport
        self.proxy = proxy
        self.domain = domain
        self.username = username
        self.password = password
        self.user_agent = user_agent
        self.request = request
        self.open_stream = open_stream
        self.make_session = make_session
        self.rtp_host = rtp_host
        self.on_end = on_end

        self.call_id = new_call_id(transport.local_host)
        self.local_tag = new_tag()
        caller = request.caller_id or from_user
        name = f'"{display_name}" ' if display_name else ""
        self.from_header = f"{name}<sip:{caller}@{domain}>;tag={self.local_tag}"
        self.to_uri = f"sip:{request.number}@{domain}"
        self.contact = f"<sip:{from_user}@{_hostport(transport.local_host, transport.local_port)}>"
        self.local_cseq = 0
        self.remote_tag = ""
        self.remote_target = self.to_uri
        self.route_set: list[str] = []
        self.early_media = False
        self.stream: MediaStream | None = None
        self.session: CallSession | None = None
        self.confirmed = False  # the dialog exists (2xx received and acknowledged)
        self.terminated = False
        self._remote_bye = False
        self._ended = False
        self._invite: InviteClientTransaction | None = None
        self._offer = b""

    # -- setup -----------------------------------------------------------------------------
    async def setup(self) -> CallSetup:
        """Places the call; returns once it is answered or has failed."""
        try:
            self.stream = await self.open_stream(self.rtp_host)
        except OSError as exc:
            logger.warning("call %s: no RTP port: %s", self.call_id, exc)
            self._end()
            return self._result("failed", None, reason="no RTP port")
        # Keys sent while it rings (early media) must not answer the robot's first question.
        self.stream.before_answer()
        self._offer = sdp.offer(self.stream.local_host, self.stream.local_port)
        self.transport.add_dialog(self.call_id, self._on_request)
        try:
            setup = await self._invite_until_final()
        except BaseException:
            self._abandon()
            raise
        if setup.outcome != "answered":
            self._end()
        return setup

    async def _invite_until_final(self) -> CallSetup:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.request.ring_timeout
        transaction = self._send_invite(authorization_header=None)
        cancel_wanted = False
        cancelled_at: float | None = None
        challenges = 0
        while True:
            if cancelled_at is not None:
                # RFC 3261 §9.1: no final answer 64*T1 after the CANCEL ends the attempt.
                timeout: float | None = max(
                    0.0, cancelled_at + 64 * self.transport.t1 - loop.time()
                )
            elif not cancel_wanted:
                timeout = max(0.0, deadline - loop.time())
            else:
                timeout = None  # waiting for a provisional to cancel (or Timer B)
            try:
                response = await transaction.next_response(timeout)
            except TimeoutError:
                if cancelled_at is not None:
                    transaction.terminate()
                    return self._result("no_answer", None, reason="no answer to CANCEL")
                cancel_wanted = True
                # A CANCEL may only follow a provisional response (RFC 3261 §9.1).
                if transaction.provisional:
                    cancelled_at = self._send_cancel(transaction)
                continue
            if response is None:  # Timer B: nothing at all came back
                if cancel_wanted:
                    return self._result("no_answer", None, reason="timeout")
                return self._result("failed", None, reason="no response (Timer B)")
            status = response.status
            if status < 200:
                self._provisional(response)
                if cancel_wanted and cancelled_at is None:
                    cancelled_at = self._send_cancel(transaction)
                continue
            if status < 300:
                return await self._answered(transaction, response, cancelled=cancel_wanted)
            if status in (401, 407) and self.username and self._may_answer(response, challenges):
                header = self._answer_challenge(response, "INVITE", self.to_uri)
                if header is not None:
                    challenges += 1
                    transaction = self._send_invite(authorization_header=header)
                    continue
            logger.info("call %s: final %s %s", self.call_id, status, response.reason)
            return self._result(
                outcome_for_status(status),
                status,
                reason=response.reason,
                retry_after=retry_after_seconds(response.get("Retry-After")),
            )

    def _send_invite(
        self, *, authorization_header: tuple[str, str] | None
    ) -> InviteClientTransaction:
        self.local_cseq += 1
        invite = SipMessage(method="INVITE", uri=self.to_uri)
        invite.add("Via", self._via())
        invite.add("Max-Forwards", "70")
        invite.add("From", self.from_header)
        invite.add("To", f"<{self.to_uri}>")
        invite.add("Call-ID", self.call_id)
        invite.add("CSeq", f"{self.local_cseq} INVITE")
        invite.add("Contact", self.contact)
        if authorization_header is not None:
            invite.add(*authorization_header)
        invite.add("Allow", ALLOW)
        invite.add("User-Agent", self.user_agent)
        invite.add("Content-Type", "application/sdp")
        invite.body = self._offer
        self._invite = InviteClientTransaction(self.transport, invite, self.proxy)
        self._invite.start()
        return self._invite

    @staticmethod
    def _may_answer(response: SipMessage, answered: int) -> bool:
        """A first challenge is answered; a second one only when it says our nonce went stale
        (a repeated challenge otherwise means the credentials are wrong)."""
        if answered == 0:
            return True
        value = response.get("Proxy-Authenticate" if response.status == 407 else "WWW-Authenticate")
        try:
            return answered < 3 and parse_challenge(value).stale
        except DigestError:
            return False

    def _answer_challenge(
        self, response: SipMessage, method: str, uri: str
    ) -> tuple[str, str] | None:
        proxy = response.status == 407
        value = response.get("Proxy-Authenticate" if proxy else "WWW-Authenticate")
        try:
            challenge = parse_challenge(value)
            header = authorization(
                challenge,
                method=method,
                uri=uri,
                username=self.username,
                password=self.password,
            )
        except DigestError as exc:
            logger.warning("call %s: cannot answer the challenge: %s", self.call_id, exc)
            return None
        return ("Proxy-Authorization" if proxy else "Authorization", header)

    def _provisional(self, response: SipMessage) -> None:
        if response.status in (180, 183) and response.content_type == "application/sdp":
            try:
                answer = sdp.parse_answer(response.body)
            except sdp.SdpError as exc:
                logger.info("call %s: unusable early media SDP: %s", self.call_id, exc)
                return
            if self.stream is not None:
                self.stream.connect(
                    answer.host,
                    answer.port,
                    payload_type=answer.payload_type,
                    event_payload_type=answer.event_payload_type,
                )
            if not self.early_media:
                logger.info(
                    "call %s: early media (%s) from %s:%s",
                    self.call_id,
                    response.status,
                    answer.host,
                    answer.port,
                )
            self.early_media = True

    def _send_cancel(self, invite: InviteClientTransaction) -> float:
        """RFC 3261 §9.1: same Request-URI, Call-ID, From, To, CSeq number and top Via as the
        INVITE being cancelled."""
        request = invite.request
        cancel = SipMessage(method="CANCEL", uri=request.uri)
        cancel.add("Via", request.get_all("Via")[0])
        cancel.add("Max-Forwards", "70")
        cancel.add("From", request.get("From"))
        cancel.add("To", request.get("To"))
        cancel.add("Call-ID", request.call_id)
        cancel.add("CSeq", f"{request.cseq[0]} CANCEL")
        cancel.add("User-Agent", self.user_agent)
        NonInviteClientTransaction(self.transport, cancel, self.proxy).start()
        logger.info(
            "call %s: no answer in %.0f s, cancelling", self.call_id, self.request.ring_timeout
        )
        return asyncio.get_running_loop().time()

    async def _answered(
        self, invite: InviteClientTransaction, response: SipMessage, *, cancelled: bool
    ) -> CallSetup:
        self.remote_tag = response.to_tag
        contacts = response.get_all("Contact")
        if contacts:
            self.remote_target = header_uri(contacts[0])
        self.route_set = list(reversed(response.get_all("Record-Route")))
        self.confirmed = True
        ack = self._in_dialog("ACK", invite.request.cseq[0])
        ack_data = ack.encode()
        self.transport.send_bytes(ack_data, self.proxy)
        # A lost ACK makes the far end resend its 2xx: acknowledge every copy.
        invite.on_2xx = lambda _response: self.transport.send_bytes(ack_data, self.proxy)
        if cancelled:
            # The answer crossed our CANCEL: the call is over for us (RFC 3261 §15).
            logger.info("call %s: answered after CANCEL, hanging up", self.call_id)
            await self._bye()
            return self._result("no_answer", 200, reason="answered after ring timeout")
        answer = None
        if response.content_type == "application/sdp" and response.body:
            try:
                answer = sdp.parse_answer(response.body)
            except sdp.SdpError as exc:
                logger.warning("call %s: unusable answer SDP: %s", self.call_id, exc)
                await self._bye()
                return self._result("failed", 200, reason=f"SDP: {exc}")
        elif not self.early_media:
            await self._bye()
            return self._result("failed", 200, reason="answer without SDP")
        if answer is not None and self.stream is not None:
            self.stream.connect(
                answer.host,
                answer.port,
                payload_type=answer.payload_type,
                event_payload_type=answer.event_payload_type,
            )
        if self.stream is not None:
            self.stream.answered()
        self.session = self.make_session(self.stream, self.hangup)
        if self._remote_bye:  # their BYE overtook the 2xx
            self._remote_ended()
        logger.info("call %s: answered", self.call_id)
        detail_extra = {}
        if answer is not None:
            detail_extra["telephone_event"] = answer.event_payload_type is not None
        setup = self._result("answered", 200, reason=response.reason, **detail_extra)
        setup.session = self.session
        setup.dialog = self.dialog()
        return setup

    def dialog(self) -> dict[str, Any]:
        """What a BYE in this dialog needs, for another process to send it (end_dialog)."""
        return {
            "call_id": self.call_id,
            "from": self.from_header,
            "to": f"<{self.to_uri}>" + (f";tag={self.remote_tag}" if self.remote_tag else ""),
            "target": self.remote_target,
            "route": list(self.route_set),
            # Room for the in-dialog requests this process may still send before it dies.
            "cseq": self.local_cseq + 100,
        }

    def _result(self, outcome: str, status: int | None, **detail: Any) -> CallSetup:
        info: dict[str, Any] = {"sip_status": status, "call_id": self.call_id}
        if self.early_media:
            info["early_media"] = True
        info.update({k: v for k, v in detail.items() if v not in (None, "")})
        return CallSetup(outcome=outcome, sip_status=status, detail=info)

    # -- in the dialog -----------------------------------------------------------------------
    def _via(self) -> str:
        host = _hostport(self.transport.local_host, self.transport.local_port)
        return f"SIP/2.0/UDP {host};branch={new_branch()};rport"

    def _in_dialog(self, method: str, cseq: int) -> SipMessage:
        message = SipMessage(method=method, uri=self.remote_target)
        message.add("Via", self._via())
        message.add("Max-Forwards", "70")
        message.add("From", self.from_header)
        to = f"<{self.to_uri}>" + (f";tag={self.remote_tag}" if self.remote_tag else "")
        message.add("To", to)
        message.add("Call-ID", self.call_id)
        message.add("CSeq", f"{cseq} {method}")
        for route in self.route_set:
            message.add("Route", route)
        return message

    async def hangup(self) -> None:
        """Our side ends the call: BYE in an answered dialog (idempotent)."""
        if self.terminated:
            return
        await self._bye()

    async def _bye(self) -> None:
        if self.terminated:
            return
        self.terminated = True
        try:
            if self.confirmed:
                self.local_cseq += 1
                bye = self._in_dialog("BYE", self.local_cseq)
                bye.add("User-Agent", self.user_agent)
                response = await wait_final(
                    NonInviteClientTransaction(self.transport, bye, self.proxy).start()
                )
                if response is not None and response.status in (401, 407) and self.username:
                    header = self._answer_challenge(response, "BYE", bye.uri)
                    if header is not None:
                        self.local_cseq += 1
                        bye = self._in_dialog("BYE", self.local_cseq)
                        bye.add(*header)
                        await wait_final(
                            NonInviteClientTransaction(self.transport, bye, self.proxy).start()
                        )
        finally:
            self._end()

    def _on_request(self, request: SipMessage, addr: Address) -> None:
        method = request.method
        if method == "ACK":
            return
        if method == "BYE":
            self.transport.respond(request, response_to(request, 200, "OK"), addr)
            if not self.terminated:
                logger.info("call %s: the far end hung up", self.call_id)
                self.terminated = True
                self._remote_bye = True
                if self.session is not None:
                    self._remote_ended()
            return
        if method == "INVITE" and self.confirmed and not self.terminated:
            # A re-INVITE (hold, session refresh, new media address): follow it, answer again.
            if request.content_type == "application/sdp" and request.body:
                try:
                    answer = sdp.parse_answer(request.body)
                except sdp.SdpError:
                    self.transport.respond(
                        request, response_to(request, 488, "Not Acceptable Here"), addr
                    )
                    return
                if self.stream is not None:
                    self.stream.connect(
                        answer.host,
                        answer.port,
                        payload_type=answer.payload_type,
                        event_payload_type=answer.event_payload_type,
                    )
            response = response_to(request, 200, "OK")
            response.add("Contact", self.contact)
            response.add("Content-Type", "application/sdp")
            response.body = self._offer
            self.transport.respond(request, response, addr)
            return
        if method in ("OPTIONS", "INFO", "NOTIFY", "UPDATE"):
            response = response_to(request, 200, "OK")
            response.add("Allow", ALLOW)
            self.transport.respond(request, response, addr)
            return
        if method == "CANCEL":
            self.transport.respond(request, response_to(request, 481, "No Transaction"), addr)
            return
        self.transport.respond(request, response_to(request, 501, "Not Implemented"), addr)

    def _remote_ended(self) -> None:
        remote_hung_up = getattr(self.session, "remote_hung_up", None)
        if remote_hung_up is not None:
            remote_hung_up()
        self._end()

    def _abandon(self) -> None:
        """setup() was cancelled (the dialer is stopping): leave nothing ringing or open."""
        invite = self._invite
        if self.confirmed and not self.terminated:
            self.terminated = True
            self.local_cseq += 1
            NonInviteClientTransaction(
                self.transport, self._in_dialog("BYE", self.local_cseq), self.proxy
            ).start()
        elif invite is not None and invite.final is None and invite.provisional:
            self._send_cancel(invite)
        elif invite is not None and invite.final is None:
            invite.terminate()
        self._end()

    def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        self.terminated = True
        self.transport.remove_dialog(self.call_id)
        if self.stream is not None:
            self.stream.close()
        if self.on_end is not None:
            self.on_end(self)


def retry_after_seconds(value: str | None) -> int | None:
    """The seconds of a Retry-After header (RFC 3261 §20.33: "120;duration=3600 (comment)"),
    None when absent or unreadable."""
    if not value:
        return None
    head = value.split(";", 1)[0].split("(", 1)[0].strip()
    return int(head) if head.isdigit() else None


async def end_dialog(
    transport: SipTransport, proxy: Address, dialog: dict[str, Any], *, user_agent: str
) -> int | None:
    """Sends the BYE of a dialog another process left open (its Call-ID, tags, remote target,
    route set and a CSeq above any it used) and returns the final status (None: no answer)."""
    bye = SipMessage(method="BYE", uri=str(dialog["target"]))
    host = _hostport(transport.local_host, transport.local_port)
    bye.add("Via", f"SIP/2.0/UDP {host};branch={new_branch()};rport")
    bye.add("Max-Forwards", "70")
    bye.add("From", str(dialog["from"]))
    bye.add("To", str(dialog["to"]))
    bye.add("Call-ID", str(dialog["call_id"]))
    bye.add("CSeq", f"{int(dialog['cseq'])} BYE")
    for route in dialog.get("route") or []:
        bye.add("Route", str(route))
    bye.add("User-Agent", user_agent)
    response = await wait_final(NonInviteClientTransaction(transport, bye, proxy).start())
    return response.status if response is not None else None


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
