"""The SIP UAC's parts without SIPp: message parsing, digest answers (RFC 2617 / RFC 7616
vectors), SDP offer/answer, and the timers and retransmission rules against a scripted fake
UAS on loopback (Timer A/B, re-ACK of a retransmitted 2xx, 407, BYE from the far end,
CANCEL only after a provisional)."""

import asyncio
import socket

import pytest

from linli.adapters import telephony
from linli.adapters.telephony.base import CallRequest
from linli.adapters.telephony.sip import SipCarrier, SipConfig, sdp
from linli.adapters.telephony.sip.digest import Challenge, authorization, parse_challenge
from linli.adapters.telephony.sip.message import SipMessage, header_params, header_uri, response_to

INVITE = (
    b"INVITE sip:13800138000@example.com SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc;rport\r\n"
    b"Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKdef, SIP/2.0/UDP 10.9.9.9\r\n"
    b'f: "Linli, robot" <sip:linli@example.com>;tag=111\r\n'
    b"t: <sip:13800138000@example.com>\r\n"
    b"i: abc@10.0.0.1\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    b"Subject: a long\r\n  folded header\r\n"
    b"c: application/sdp\r\n"
    b"l: 5\r\n\r\nv=0\r\nextra"
)


def test_parse_compact_folded_and_list_headers():
    message = SipMessage.parse(INVITE)
    assert message.method == "INVITE"
    assert message.call_id == "abc@10.0.0.1"
    assert message.cseq == (7, "INVITE")
    assert message.branch == "z9hG4bKabc"
    assert message.from_tag == "111"
    assert message.to_tag == ""
    assert len(message.get_all("Via")) == 3
    assert message.get_all("Record-Route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert message.get("Subject") == "a long folded header"
    assert message.content_type == "application/sdp"
    assert message.body == b"v=0\r\n"  # Content-Length cuts the rest
    again = SipMessage.parse(message.encode())
    assert again.headers == message.headers and again.body == message.body


def test_response_to_copies_the_transaction_keys_and_adds_a_tag():
    message = SipMessage.parse(INVITE)
    response = SipMessage.parse(response_to(message, 486, "Busy Here", to_tag="xyz").encode())
    assert (response.status, response.reason) == (486, "Busy Here")
    assert response.branch == "z9hG4bKabc"
    assert response.to_tag == "xyz"
    assert response.cseq == (7, "INVITE")


def test_header_helpers():
    assert header_uri('"A" <sip:a@b:5070;transport=udp>;tag=1') == "sip:a@b:5070;transport=udp"
    assert header_params('"A" <sip:a@b;lr>;tag=1;x="y z"') == {"tag": "1", "x": "y z"}
    assert header_params("sip:a@b;tag=9") == {"tag": "9"}


@pytest.mark.parametrize(
    "bad", [b"", b"hello", b"SIP/2.0 abc OK\r\n\r\n", b"OPTIONS sip:a SIP/2.0\r\n\r\n"]
)
def test_unreadable_messages_are_rejected(bad):
    with pytest.raises(ValueError):
        SipMessage.parse(bad)


def test_digest_rfc2617_vector():
    challenge = Challenge(
        realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop=("auth",),
        opaque="5ccc069c403ebaf9f0171e9517f40e41",
    )
    header = authorization(
        challenge,
        method="GET",
        uri="/dir/index.html",
        username="Mufasa",
        password="Circle Of Life",
        cnonce="0a4f113b",
    )
    assert 'response="6629fae49393a05397450978507c4ef1"' in header
    assert "nc=00000001" in header and "qop=auth" in header
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in header


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_digest_rfc7616_vectors(algorithm, expected):
    challenge = parse_challenge(
        f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    header = authorization(
        challenge,
        method="GET",
        uri="/dir/index.html",
        username="Mufasa",
        password="Circle of Life",
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )
    assert f'response="{expected}"' in header


def test_sdp_offer_and_answer():
    offer = sdp.offer("192.0.2.10", 40000).decode()
    assert "m=audio 40000 RTP/AVP 0 101" in offer
    assert "a=rtpmap:101 telephone-event/8000" in offer
    assert "a=ptime:20" in offer and "a=sendrecv" in offer
    assert "c=IN IP4 192.0.2.10" in offer
    answer = sdp.parse_answer(
        b"v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n"
        b"m=audio 30000 RTP/AVP 0 96\r\nc=IN IP4 198.51.100.7\r\n"
        b"a=rtpmap:0 PCMU/8000\r\na=rtpmap:96 telephone-event/8000\r\na=sendrecv\r\n"
        b"m=video 0 RTP/AVP 31\r\n"
    )
    assert (answer.host, answer.port, answer.payload_type, answer.event_payload_type) == (
        "198.51.100.7",
        30000,
        0,
        96,
    )
    no_events = sdp.parse_answer(b"v=0\r\nc=IN IP4 10.1.1.1\r\nm=audio 4000 RTP/AVP 0\r\n")
    assert no_events.event_payload_type is None and no_events.host == "10.1.1.1"
    for refused in (
        b"v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 0 RTP/AVP 0\r\n",
        b"v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/AVP 8\r\n",
    ):
        with pytest.raises(sdp.SdpError):
            sdp.parse_answer(refused)


# -- a scripted UAS ------------------------------------------------------------------------


class FakeStream:
    def __init__(self) -> None:
        self.local_host, self.local_port = "127.0.0.1", 40000
        self.connected: list[tuple] = []
        self.closed = False
        self.answer_states: list[str] = []

    def before_answer(self):
        self.answer_states.append("before")

    def answered(self):
        self.answer_states.append("answered")

    def connect(self, host, port, *, payload_type=0, event_payload_type=101):
        self.connected.append((host, port, payload_type, event_payload_type))

    def close(self):
        self.closed = True


class FakeSession:
    def __init__(self, stream, hangup):
        self.stream, self._hangup, self.remote = stream, hangup, False

    def remote_hung_up(self):
        self.remote = True

    async def hangup(self):
        await self._hangup()


ANSWER_SDP = (
    b"v=0\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 101\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
)


class FakeUas(asyncio.DatagramProtocol):
    """Receives our requests and answers through `script(message, addr)`."""

    def __init__(self, script) -> None:
        self.script = script
        self.received: list[SipMessage] = []
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        message = SipMessage.parse(data)
        self.received.append(message)
        self.script(self, message, addr)

    def send(self, message: SipMessage, addr) -> None:
        self.transport.sendto(message.encode(), addr)

    def methods(self) -> list[str]:
        return [m.method for m in self.received]


async def with_uas(script, body, **config):
    loop = asyncio.get_running_loop()
    transport, uas = await loop.create_datagram_endpoint(
        lambda: FakeUas(script), local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    streams: list[FakeStream] = []

    async def open_stream(host):
        streams.append(FakeStream())
        return streams[-1]

    carrier = SipCarrier(
        SipConfig(proxy_host="127.0.0.1", proxy_port=port, bind_host="127.0.0.1", **config),
        open_stream=open_stream,
        make_session=FakeSession,
    )
    try:
        return await asyncio.wait_for(body(carrier, uas, streams), 20)
    finally:
        await carrier.close()
        transport.close()


def run(coro):
    return asyncio.run(coro)


def request(**fields):
    return CallRequest(call_id="attempt", number="13800138000", **fields)


def answer(request_message, status, reason, *, sdp_body=b"", tag="uas1", **headers):
    response = response_to(request_message, status, reason, to_tag=tag)
    for name, value in headers.items():
        response.add(name.replace("_", "-"), value)
    if sdp_body:
        response.add("Content-Type", "application/sdp")
        response.body = sdp_body
    return response


def test_timer_a_retransmits_and_timer_b_gives_up():
    def silent(uas, message, addr):
        pass

    async def body(carrier, uas, streams):
        setup = await carrier.place_call(request())
        return setup, uas.methods(), streams

    setup, methods, streams = run(with_uas(silent, body, t1=0.02))
    assert setup.outcome == "failed"
    assert setup.sip_status is None
    assert "Timer B" in setup.detail["reason"]
    # 64*T1 with doubling intervals T1, 2T1, 4T1 …: the INVITE and up to 6 retransmissions
    # (a loaded machine may fire Timer B before the last one)
    assert set(methods) == {"INVITE"}
    assert 3 <= len(methods) <= 7
    assert streams[0].closed


def test_retransmitted_2xx_is_acknowledged_again_and_bye_from_the_far_end():
    state = {}

    def script(uas, message, addr):
        if message.method == "INVITE":
            ok = answer(message, 200, "OK", sdp_body=ANSWER_SDP, Contact="<sip:callee@127.0.0.1:1>")
            uas.send(ok, addr)
            state["ok"], state["addr"] = ok, addr
        elif message.method == "ACK" and uas.methods().count("ACK") == 1:
            uas.send(state["ok"], addr)  # as if our ACK had been lost

    async def body(carrier, uas, streams):
        setup = await carrier.place_call(request())
        await asyncio.sleep(0.1)
        acks = [m for m in uas.received if m.method == "ACK"]
        # the far end hangs up
        bye = SipMessage(method="BYE", uri="sip:linli@127.0.0.1")
        bye.add("Via", "SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKbye1")
        bye.add("From", acks[0].get("To"))
        bye.add("To", acks[0].get("From"))
        bye.add("Call-ID", acks[0].call_id)
        bye.add("CSeq", "1 BYE")
        got: asyncio.Queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        sender, _ = await loop.create_datagram_endpoint(
            lambda: _Collector(got), local_addr=("127.0.0.1", 0)
        )
        transport = await carrier.transport()
        target = ("127.0.0.1", transport.local_port)
        sender.sendto(bye.encode(), target)
        first = await asyncio.wait_for(got.get(), 2)
        sender.sendto(bye.encode(), target)  # retransmitted: answered again
        second = await asyncio.wait_for(got.get(), 2)
        sender.close()
        return setup, acks, first, second, carrier.active_calls, streams

    setup, acks, first, second, active, streams = run(with_uas(script, body))
    assert setup.outcome == "answered"
    assert streams[0].connected == [("127.0.0.1", 30000, 0, 101)]
    assert len(acks) == 2
    assert acks[0].branch == acks[1].branch  # the same ACK, sent again
    assert acks[0].branch != SipMessage.parse(INVITE).branch
    assert acks[0].uri == "sip:callee@127.0.0.1:1"  # the remote target from Contact
    assert acks[0].to_tag == "uas1"
    assert first.status == 200 and second.status == 200
    assert setup.session.remote is True
    assert active == 0 and streams[0].closed


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, queue):
        self.queue = queue

    def datagram_received(self, data, addr):
        self.queue.put_nowait(SipMessage.parse(data))


def test_proxy_authentication_407_and_bye_with_route_set():
    def script(uas, message, addr):
        if message.method == "INVITE" and not message.get("Proxy-Authorization"):
            uas.send(
                answer(
                    message,
                    407,
                    "Proxy Authentication Required",
                    Proxy_Authenticate='Digest realm="trunk", nonce="n1", qop="auth"',
                ),
                addr,
            )
        elif message.method == "INVITE":
            uas.send(
                answer(
                    message,
                    200,
                    "OK",
                    sdp_body=ANSWER_SDP,
                    Contact="<sip:callee@127.0.0.1:2>",
                    Record_Route="<sip:p1.example;lr>, <sip:p2.example;lr>",
                ),
                addr,
            )
        elif message.method == "BYE":
            uas.send(response_to(message, 200, "OK"), addr)

    async def body(carrier, uas, streams):
        setup = await carrier.place_call(request())
        await setup.session.hangup()
        await setup.session.hangup()  # idempotent
        return setup, list(uas.received), carrier.active_calls

    setup, received, active = run(with_uas(script, body, username="u1", password="p1"))
    assert setup.outcome == "answered"
    invites = [m for m in received if m.method == "INVITE"]
    assert [m.cseq[0] for m in invites] == [1, 2]
    assert invites[0].call_id == invites[1].call_id
    assert invites[0].from_tag == invites[1].from_tag
    assert invites[0].branch != invites[1].branch
    assert 'username="u1"' in invites[1].get("Proxy-Authorization")
    assert [m.method for m in received] == ["INVITE", "ACK", "INVITE", "ACK", "BYE"]
    assert received[1].branch == invites[0].branch  # the 407's ACK is in its transaction
    bye = received[-1]
    assert bye.cseq == (3, "BYE")
    assert bye.uri == "sip:callee@127.0.0.1:2"
    assert bye.get_all("Route") == ["<sip:p2.example;lr>", "<sip:p1.example;lr>"]
    assert active == 0


def test_ring_timeout_before_any_provisional_cancels_once_one_arrives():
    state = {}

    def script(uas, message, addr):
        if message.method == "INVITE" and "invite" not in state:
            state["invite"] = message
            # stay silent past the ring timeout, then ring
            asyncio.get_running_loop().call_later(
                0.4, uas.send, answer(message, 180, "Ringing"), addr
            )
        elif message.method == "CANCEL":
            uas.send(response_to(message, 200, "OK", to_tag="uas1"), addr)
            uas.send(answer(state["invite"], 487, "Request Terminated"), addr)

    async def body(carrier, uas, streams):
        setup = await carrier.place_call(request(ring_timeout=0.1))
        await asyncio.sleep(0.05)
        return setup, uas.methods()

    setup, methods = run(with_uas(script, body))
    assert setup.outcome == "no_answer"
    assert setup.sip_status == 487
    # no CANCEL before the 180 (RFC 3261 §9.1); the INVITE was resent meanwhile (Timer A)
    assert methods[-2:] == ["CANCEL", "ACK"]
    assert set(methods[:-2]) == {"INVITE"}


def test_config_from_env():
    config = SipConfig.from_env(
        {
            "LINLI_SIP_PROXY": "trunk.example.net:5080",
            "LINLI_SIP_FROM_USER": "02988880000",
            "LINLI_SIP_USERNAME": "acct",
            "LINLI_SIP_PASSWORD": "pw",
            "LINLI_SIP_BIND": "10.0.0.2:5060",
            "LINLI_SIP_MAX_CALLS": "12",
            "LINLI_SIP_REGISTRAR": "reg.example.net",
        }
    )
    assert (config.registrar_host, config.registrar_port) == ("reg.example.net", 5060)
    assert (config.proxy_host, config.proxy_port) == ("trunk.example.net", 5080)
    assert (config.bind_host, config.bind_port, config.max_calls) == ("10.0.0.2", 5060, 12)
    assert (config.username, config.password, config.from_user) == ("acct", "pw", "02988880000")
    with pytest.raises(ValueError):
        SipConfig.from_env({})


def test_max_calls_holds_a_line_until_the_dialog_ends():
    def script(uas, message, addr):
        if message.method == "INVITE":
            uas.send(answer(message, 200, "OK", sdp_body=ANSWER_SDP), addr)
        elif message.method == "BYE":
            uas.send(response_to(message, 200, "OK"), addr)

    async def body(carrier, uas, streams):
        first = await carrier.place_call(request())
        second = asyncio.ensure_future(carrier.place_call(request()))
        await asyncio.sleep(0.2)
        waiting = not second.done()
        await first.session.hangup()
        other = await asyncio.wait_for(second, 5)
        await other.session.hangup()
        return waiting, other.outcome

    waiting, outcome = run(with_uas(script, body, max_calls=1))
    assert waiting is True
    assert outcome == "answered"


def test_free_port_helper_is_not_needed_for_ephemeral_binding():
    # the carrier binds port 0 and advertises what the kernel gave it
    async def body():
        carrier = SipCarrier(SipConfig(proxy_host="127.0.0.1", proxy_port=9, bind_host="127.0.0.1"))
        transport = await carrier.transport()
        port = transport.local_port
        await carrier.close()
        return port

    port = run(body())
    assert port > 0  # the port the kernel gave, not the 0 asked for
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", port))  # released on close


def test_stopping_the_dialer_mid_ring_cancels_the_invite():
    state = {}

    def script(uas, message, addr):
        if message.method == "INVITE":
            state["invite"] = message
            uas.send(answer(message, 180, "Ringing"), addr)
        elif message.method == "CANCEL":
            uas.send(response_to(message, 200, "OK", to_tag="uas1"), addr)
            uas.send(answer(state["invite"], 487, "Request Terminated"), addr)

    async def body(carrier, uas, streams):
        task = asyncio.ensure_future(carrier.place_call(request(ring_timeout=30)))
        while not any(c._invite and c._invite.provisional for c in carrier.calls):
            await asyncio.sleep(0.01)  # ringing
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.2)
        return uas.methods(), carrier.active_calls, streams

    methods, active, streams = run(with_uas(script, body))
    assert methods == ["INVITE", "CANCEL", "ACK"]  # the 487 acknowledged in its transaction
    assert active == 0
    assert streams[0].closed


def test_wrong_credentials_are_not_retried_forever():
    def script(uas, message, addr):
        if message.method == "INVITE":
            uas.send(
                answer(
                    message, 401, "Unauthorized", WWW_Authenticate='Digest realm="r", nonce="n"'
                ),
                addr,
            )

    async def body(carrier, uas, streams):
        setup = await carrier.place_call(request())
        await asyncio.sleep(0.05)
        return setup, uas.methods()

    setup, methods = run(with_uas(script, body, username="u", password="bad"))
    assert setup.outcome == "failed"
    assert setup.sip_status == 401
    assert methods == ["INVITE", "ACK", "INVITE", "ACK"]


def test_carrier_from_a_dialer_lines_settings():
    """get_carrier builds a SIP carrier from a line's settings, with the password and the
    number of concurrent calls its owner passes in."""
    settings = {
        "host": "sbc.example.net",
        "port": 5080,
        "username": "acct",
        "password_env": "TRUNK_PW",
        "caller_id": "02988880000",
        "registrar": "reg.example.net:5090",
    }
    carrier = telephony.get_carrier("sip", settings, password="from-env", max_calls=8)
    assert isinstance(carrier, SipCarrier)
    c = carrier.config
    assert (c.proxy_host, c.proxy_port, c.max_calls) == ("sbc.example.net", 5080, 8)
    assert (c.username, c.password, c.from_user) == ("acct", "from-env", "02988880000")
    assert (c.registrar_host, c.registrar_port) == ("reg.example.net", 5090)
    with pytest.raises(ValueError):
        SipConfig.from_settings({"host": "x", "transport": "tls"})


def test_the_stream_takes_no_keys_until_the_call_is_answered():
    # Keys sent during early media must not answer the robot's first question: the stream is
    # told before the INVITE goes out, and again when the 200 OK arrives (after the 183's SDP).
    def script(uas, message, addr):
        if message.method == "INVITE":
            uas.send(answer(message, 183, "Session Progress", sdp_body=ANSWER_SDP), addr)
            uas.send(answer(message, 200, "OK", sdp_body=ANSWER_SDP), addr)

    async def body(carrier, uas, streams):
        setup = await carrier.place_call(request())
        return setup, streams[0].answer_states, len(streams[0].connected)

    setup, states, connects = run(with_uas(script, body))
    assert setup.outcome == "answered" and setup.detail["early_media"]
    assert states == ["before", "answered"]
    assert connects == 2
