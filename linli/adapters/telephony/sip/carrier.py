"""The direct SIP carrier: our own UAC calling through a SIP proxy or a carrier's trunk, with
RTP handled in-process. For small deployments (a few dozen lines) and for the SIPp tests; at
scale, FreeSWITCH carries the media (linli.adapters.telephony.freeswitch).
"""

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from linli.adapters.media.rtp import RtpStream
from linli.adapters.media.session import RtpCallSession
from linli.adapters.telephony.base import CallRequest, CallSetup, Carrier

from .call import MediaStream, SessionFactory, SipCall, StreamOpener, end_dialog
from .register import Registration
from .transport import T1, SipTransport

logger = logging.getLogger("linli.adapters.telephony.sip")


@dataclass(frozen=True)
class SipConfig:
    """Where and as whom to call. Every request goes to `proxy_host:proxy_port` (the carrier's
    SBC or our outbound proxy); `domain` is the host part of the From and Request-URIs."""

    proxy_host: str
    proxy_port: int = 5060
    domain: str = ""
    from_user: str = "linli"
    display_name: str = ""
    username: str = ""  # digest credentials, when the trunk asks (401/407)
    password: str = ""
    bind_host: str = "0.0.0.0"  # noqa: S104 - the operator chooses the interface
    bind_port: int = 0
    advertise_host: str = ""  # the address put in Via/Contact/SDP (behind a static NAT)
    rtp_host: str = ""  # where RTP sockets bind; defaults to the advertised address
    max_calls: int = 30
    registrar_host: str = ""  # set: REGISTER there before calling (trunks that require it)
    registrar_port: int = 5060
    register_expires: int = 600
    t1: float = T1
    user_agent: str = "Linli"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "SipConfig":
        """Reads LINLI_SIP_* (docs/adapters-telephony.md)."""
        env = os.environ if environ is None else environ
        proxy = env.get("LINLI_SIP_PROXY", "")
        if not proxy:
            raise ValueError("LINLI_SIP_PROXY is not set")
        proxy_host, proxy_port = _host_port(proxy, 5060)
        bind_host, bind_port = _host_port(env.get("LINLI_SIP_BIND", "0.0.0.0:0"), 0)
        registrar = env.get("LINLI_SIP_REGISTRAR", "")
        registrar_host, registrar_port = _host_port(registrar, 5060) if registrar else ("", 5060)
        return cls(
            proxy_host=proxy_host,
            proxy_port=proxy_port,
            domain=env.get("LINLI_SIP_DOMAIN", ""),
            from_user=env.get("LINLI_SIP_FROM_USER", "linli"),
            display_name=env.get("LINLI_SIP_DISPLAY_NAME", ""),
            username=env.get("LINLI_SIP_USERNAME", ""),
            password=env.get("LINLI_SIP_PASSWORD", ""),
            bind_host=bind_host,
            bind_port=bind_port,
            advertise_host=env.get("LINLI_SIP_ADVERTISE", ""),
            rtp_host=env.get("LINLI_SIP_RTP_HOST", ""),
            max_calls=int(env.get("LINLI_SIP_MAX_CALLS", "30")),
            registrar_host=registrar_host,
            registrar_port=registrar_port,
            register_expires=int(env.get("LINLI_SIP_REGISTER_EXPIRES", "600")),
        )

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], *, password: str = "", max_calls: int | None = None
    ) -> "SipConfig":
        """From a line's settings (a dialer line's settings: never a secret in there;
        the password comes from the environment variable the line names)."""
        transport = str(settings.get("transport", "udp")).lower()
        if transport != "udp":
            raise ValueError(f"direct SIP speaks UDP only, not {transport}")
        host = settings.get("host") or settings.get("proxy", "")
        if not host:
            raise ValueError("the line's settings name no SIP host")
        bind_host, bind_port = _host_port(str(settings.get("bind", "0.0.0.0:0")), 0)
        registrar = str(settings.get("registrar", ""))
        registrar_host, registrar_port = _host_port(registrar, 5060) if registrar else ("", 5060)
        proxy_host, proxy_port = _host_port(str(host), int(settings.get("port", 5060)))
        return cls(
            proxy_host=proxy_host,
            proxy_port=proxy_port,
            domain=str(settings.get("domain", "") or settings.get("realm", "")),
            from_user=str(
                settings.get("from_user", "") or settings.get("caller_id", "") or "linli"
            ),
            display_name=str(settings.get("display_name", "")),
            username=str(settings.get("username", "")),
            password=password,
            bind_host=bind_host,
            bind_port=bind_port,
            advertise_host=str(settings.get("advertise", "")),
            rtp_host=str(settings.get("rtp_host", "")),
            max_calls=max_calls or int(settings.get("max_calls", 30)),
            registrar_host=registrar_host,
            registrar_port=registrar_port,
            register_expires=int(settings.get("register_expires", 600)),
        )


def _host_port(value: str, default_port: int) -> tuple[str, int]:
    host, _, port = value.strip().rpartition(":")
    if not host or not port.isdigit():
        return value.strip(), default_port
    return host, int(port)


async def _open_rtp_stream(host: str) -> MediaStream:
    return await RtpStream.open(host=host, port=0)


def _rtp_session(stream, hangup):  # type: ignore[no-untyped-def]
    return RtpCallSession(stream, hangup)


class SipCarrier(Carrier):
    """`place_call` waits for a line (at most `max_calls` dialogs at once: a line is held from
    the INVITE until the BYE), then places the call over the carrier's one UDP socket."""

    name = "sip"

    def __init__(
        self,
        config: SipConfig,
        *,
        open_stream: StreamOpener | None = None,
        make_session: SessionFactory | None = None,
    ) -> None:
        self.config = config
        self._open_stream = open_stream or _open_rtp_stream
        self._make_session = make_session or _rtp_session
        self._transport: SipTransport | None = None
        self._opening = asyncio.Lock()
        self._lines = asyncio.Semaphore(config.max_calls)
        self.calls: set[SipCall] = set()
        self.registration: Registration | None = None

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], *, password: str = "", max_calls: int | None = None
    ) -> "SipCarrier":
        """The carrier of a line's settings (see SipConfig.from_settings); the password and
        the line's concurrent calls are passed in by the line's owner."""
        return cls(SipConfig.from_settings(settings, password=password, max_calls=max_calls))

    @property
    def active_calls(self) -> int:
        return len(self.calls)

    async def transport(self) -> SipTransport:
        async with self._opening:
            if self._transport is None:
                c = self.config
                self._transport = await SipTransport.open(
                    c.bind_host,
                    c.bind_port,
                    advertise_host=c.advertise_host,
                    peer=(c.proxy_host, c.proxy_port),
                    t1=c.t1,
                )
                logger.info(
                    "SIP carrier on %s:%s via %s:%s",
                    self._transport.local_host,
                    self._transport.local_port,
                    c.proxy_host,
                    c.proxy_port,
                )
                if c.registrar_host:
                    self.registration = Registration(
                        self._transport,
                        (c.registrar_host, c.registrar_port),
                        domain=c.domain or c.registrar_host,
                        user=c.username or c.from_user,
                        contact_user=c.from_user,
                        username=c.username,
                        password=c.password,
                        expires=c.register_expires,
                        user_agent=c.user_agent,
                    )
                    # A refused registration is logged and retried; calls go out regardless
                    # (the trunk's answer to them says what is wrong).
                    await self.registration.register()
                    self.registration.start()
            return self._transport

    async def place_call(self, request: CallRequest) -> CallSetup:
        transport = await self.transport()
        await self._lines.acquire()
        c = self.config
        try:
            call = SipCall(
                transport=transport,
                proxy=(c.proxy_host, c.proxy_port),
                domain=c.domain or c.proxy_host,
                from_user=c.from_user,
                display_name=c.display_name,
                username=c.username,
                password=c.password,
                user_agent=c.user_agent,
                request=request,
                open_stream=self._open_stream,
                make_session=self._make_session,
                rtp_host=c.rtp_host or transport.local_host,
                on_end=self._call_ended,
            )
        except BaseException:
            self._lines.release()
            raise
        self.calls.add(call)
        try:
            return await call.setup()
        except (OSError, ValueError) as exc:
            # Never raise for a call that did not connect: a local failure is an outcome too.
            logger.warning("call %s failed locally: %s", call.call_id, exc)
            call._abandon()
            return CallSetup(
                outcome="failed",
                detail={"sip_status": None, "call_id": call.call_id, "reason": str(exc)},
            )

    async def end_dialog(self, dialog: dict[str, Any]) -> bool:
        """Sends the BYE of a call a dead dialer left open on this trunk."""
        transport = await self.transport()
        c = self.config
        status = await end_dialog(
            transport, (c.proxy_host, c.proxy_port), dialog, user_agent=c.user_agent
        )
        logger.info("call %s left open: BYE answered %s", dialog.get("call_id"), status)
        return True

    def _call_ended(self, call: SipCall) -> None:
        if call in self.calls:
            self.calls.discard(call)
            self._lines.release()

    async def close(self) -> None:
        hangups = []
        for call in list(self.calls):
            if call.confirmed and not call.terminated:
                hangups.append(call.hangup())
            else:
                call._abandon()
        await asyncio.gather(*hangups, return_exceptions=True)
        if self.registration is not None:
            await self.registration.close()
            self.registration = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None
