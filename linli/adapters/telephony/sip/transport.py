"""SIP over UDP (RFC 3261 §17–18): one socket per carrier, client transactions with their
retransmission timers, and dispatch of what arrives.

Responses go to the client transaction whose Via branch and CSeq method they carry; requests
from the far end (BYE, re-INVITE, OPTIONS) go to the dialog registered under their Call-ID, and
a retransmitted request is answered again from a short cache of the responses we sent.
"""

import asyncio
import logging
import socket
import time
from collections.abc import Callable

from .message import SipMessage, SipParseError, response_to

logger = logging.getLogger("linli.adapters.telephony.sip")

T1 = 0.5  # RTT estimate (RFC 3261 §17.1.1.1)
T2 = 4.0  # longest retransmit interval of non-INVITE requests
T4 = 5.0  # how long a message may stay in the network

Address = tuple[str, int]
RequestHandler = Callable[[SipMessage, Address], None]


class SipTransport(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.local_host = "127.0.0.1"  # as advertised in Via, Contact and SDP
        self.local_port = 0
        self.t1 = T1
        self._transactions: dict[tuple[str, str], ClientTransaction] = {}
        self._dialogs: dict[str, RequestHandler] = {}
        self._sent: dict[tuple[str, str, str], tuple[bytes, float]] = {}  # response cache
        self._closed = asyncio.Event()

    @classmethod
    async def open(
        cls,
        bind_host: str = "0.0.0.0",  # noqa: S104 - a SIP UA listens where the operator says
        bind_port: int = 0,
        *,
        advertise_host: str = "",
        peer: Address | None = None,
        t1: float = T1,
    ) -> "SipTransport":
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(
            cls, local_addr=(bind_host, bind_port), family=socket.AF_INET
        )
        protocol.t1 = t1
        sockname = protocol.transport.get_extra_info("sockname")
        protocol.local_port = sockname[1]
        protocol.local_host = advertise_host or _route_address(sockname[0], peer)
        return protocol

    # -- asyncio protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed.set()

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like: the transaction timers decide what it means.
        logger.debug("sip socket error: %s", exc)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        if not data.strip():
            return  # CRLF keep-alive
        try:
            message = SipMessage.parse(data)
        except SipParseError as exc:
            logger.debug("dropped unreadable datagram from %s: %s", addr, exc)
            return
        if message.is_request:
            self._request_received(message, addr)
        else:
            self._response_received(message, addr)

    def _response_received(self, message: SipMessage, addr: Address) -> None:
        _, method = message.cseq
        transaction = self._transactions.get((message.branch, method))
        if transaction is not None:
            transaction.response_received(message)
        else:
            logger.debug("stray %s response to %s", message.status, method)

    def _request_received(self, message: SipMessage, addr: Address) -> None:
        key = (message.branch, message.method, message.call_id)
        cached = self._sent.get(key)
        if cached is not None:
            self.send_bytes(cached[0], addr)  # a retransmitted request: same answer again
            return
        handler = self._dialogs.get(message.call_id)
        if handler is not None:
            handler(message, addr)
        elif message.method == "ACK":
            pass  # ACKs need no answer
        elif message.method == "OPTIONS":
            response = response_to(message, 200, "OK")
            response.add("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS")
            self.respond(message, response, addr)
        else:
            self.respond(
                message, response_to(message, 481, "Call/Transaction Does Not Exist"), addr
            )

    # -- sending -----------------------------------------------------------------------------
    def send_bytes(self, data: bytes, addr: Address) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)

    def send(self, message: SipMessage, addr: Address) -> None:
        self.send_bytes(message.encode(), addr)

    def respond(self, request: SipMessage, response: SipMessage, addr: Address) -> None:
        """Sends a response to a request we received, kept for 64*T1 so a retransmission of
        the request gets the same answer (the server transaction of RFC 3261 §17.2.2)."""
        data = response.encode()
        now = time.monotonic()
        if len(self._sent) > 1024:
            self._sent = {k: v for k, v in self._sent.items() if v[1] > now}
        self._sent[(request.branch, request.method, request.call_id)] = (data, now + 64 * self.t1)
        self.send_bytes(data, addr)

    # -- registration --------------------------------------------------------------------------
    def add_dialog(self, call_id: str, handler: RequestHandler) -> None:
        self._dialogs[call_id] = handler

    def remove_dialog(self, call_id: str) -> None:
        self._dialogs.pop(call_id, None)

    def _add_transaction(self, transaction: "ClientTransaction") -> None:
        self._transactions[transaction.key] = transaction

    def _remove_transaction(self, transaction: "ClientTransaction") -> None:
        if self._transactions.get(transaction.key) is transaction:
            del self._transactions[transaction.key]

    @property
    def active_transactions(self) -> int:
        return len(self._transactions)

    def close(self) -> None:
        for transaction in list(self._transactions.values()):
            transaction.terminate()
        if self.transport is not None:
            self.transport.close()


def _route_address(bound: str, peer: Address | None) -> str:
    """The local address the peer can reach us on, when bound to all interfaces."""
    if bound not in ("0.0.0.0", ""):  # noqa: S104
        return bound
    if peer is None:
        return "127.0.0.1"
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(peer)  # no packet is sent: this only asks the routing table
        return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


class ClientTransaction:
    """A client transaction over UDP. Responses are queued for the caller to read with
    `next_response()`; a timeout (Timer B or F) reads as None."""

    def __init__(self, transport: SipTransport, request: SipMessage, addr: Address) -> None:
        self.transport = transport
        self.request = request
        self.addr = addr
        self.key = (request.branch, request.method)
        self.data = request.encode()
        self.responses: asyncio.Queue[SipMessage | None] = asyncio.Queue()
        self.final: SipMessage | None = None
        self.provisional = False
        self._timers: list[asyncio.TimerHandle] = []
        self._loop = asyncio.get_running_loop()
        self.terminated = False

    @property
    def t1(self) -> float:
        return self.transport.t1

    def start(self) -> "ClientTransaction":
        self.transport._add_transaction(self)
        self.transport.send_bytes(self.data, self.addr)
        self._schedule_retransmit(self.t1)
        self._later(64 * self.t1, self._timeout)
        return self

    async def next_response(self, timeout: float | None = None) -> SipMessage | None:
        """The next response; raises TimeoutError when `timeout` passes first."""
        return await asyncio.wait_for(self.responses.get(), timeout)

    def response_received(self, response: SipMessage) -> None:
        raise NotImplementedError

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        self._timers.append(self._loop.call_later(delay, callback))

    def _schedule_retransmit(self, interval: float) -> None:
        def fire() -> None:
            if self.terminated or self.final is not None:
                return
            if not self._retransmit_wanted():
                return
            self.transport.send_bytes(self.data, self.addr)
            self._schedule_retransmit(self._next_interval(interval))

        self._later(interval, fire)

    def _retransmit_wanted(self) -> bool:
        return True

    def _next_interval(self, interval: float) -> float:
        return interval * 2

    def _timeout(self) -> None:
        if self.final is None and not self.terminated:
            self.responses.put_nowait(None)
            self.terminate()

    def terminate(self) -> None:
        self.terminated = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.transport._remove_transaction(self)


class InviteClientTransaction(ClientTransaction):
    """RFC 3261 §17.1.1: Timer A retransmits the INVITE until any response, Timer B gives up.
    A non-2xx final response is acknowledged here, with the INVITE's branch, and re-acknowledged
    while Timer D runs. A 2xx ends the transaction: the dialog acknowledges it (its ACK is a
    transaction of its own), and `on_2xx` hears of retransmitted 2xx so it can ACK again."""

    def __init__(self, transport: SipTransport, request: SipMessage, addr: Address) -> None:
        super().__init__(transport, request, addr)
        self.ack_data: bytes | None = None
        self.on_2xx: Callable[[SipMessage], None] | None = None

    def response_received(self, response: SipMessage) -> None:
        if self.terminated:
            return
        if response.status < 200:
            if self.final is None:
                if not self.provisional:
                    # Proceeding: no more retransmissions, and no Timer B either; how long
                    # to let it ring is the caller's choice (ring timeout, then CANCEL).
                    self._stop_timers()
                self.provisional = True
                self.responses.put_nowait(response)
            return
        if 200 <= response.status < 300:
            if self.final is None:
                self.final = response
                self._stop_timers()
                # Stay registered while 2xx retransmissions may come (64*T1), for the dialog.
                self._later(64 * self.t1, self.terminate)
                self.responses.put_nowait(response)
            elif self.on_2xx is not None:
                self.on_2xx(response)
            return
        if self.final is None:
            self.final = response
            self._stop_timers()
            self.ack_data = self._ack_for(response).encode()
            self.transport.send_bytes(self.ack_data, self.addr)
            self._later(64 * self.t1, self.terminate)  # Timer D (32 s with the default T1)
            self.responses.put_nowait(response)
        elif self.ack_data is not None and response.status >= 300:
            self.transport.send_bytes(self.ack_data, self.addr)

    def _stop_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def _ack_for(self, response: SipMessage) -> SipMessage:
        """RFC 3261 §17.1.1.3: same Request-URI, top Via, From, Call-ID, Route; To from the
        response (with its tag); CSeq number of the INVITE."""
        ack = SipMessage(method="ACK", uri=self.request.uri)
        ack.add("Via", self.request.get_all("Via")[0])
        ack.add("Max-Forwards", "70")
        ack.add("From", self.request.get("From"))
        ack.add("To", response.get("To"))
        ack.add("Call-ID", self.request.call_id)
        ack.add("CSeq", f"{self.request.cseq[0]} ACK")
        for route in self.request.get_all("Route"):
            ack.add("Route", route)
        return ack


class NonInviteClientTransaction(ClientTransaction):
    """RFC 3261 §17.1.2 (BYE, CANCEL): Timer E retransmits, doubling up to T2 (at T2 once a
    provisional came), Timer F gives up after 64*T1."""

    def _next_interval(self, interval: float) -> float:
        return T2 if self.provisional else min(interval * 2, T2)

    def response_received(self, response: SipMessage) -> None:
        if self.terminated or self.final is not None:
            return
        if response.status < 200:
            self.provisional = True
            return
        self.final = response
        self.responses.put_nowait(response)
        self.terminate()


async def wait_final(transaction: ClientTransaction) -> SipMessage | None:
    """The final response of a non-INVITE transaction, or None on Timer F."""
    try:
        while True:
            response = await transaction.next_response()
            if response is None or response.status >= 200:
                return response
    except asyncio.CancelledError:
        transaction.terminate()
        raise
