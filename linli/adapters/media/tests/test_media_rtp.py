"""RTP and RFC 4733 packets, and two RtpStreams talking over loopback UDP: paced playback,
barge-in by a telephone-event, in-band tones, collect(), and hang-ups."""

import asyncio
import bisect
import itertools
import socket
import struct
from pathlib import Path

import pytest

from linli.adapters.media import dtmf, g711
from linli.adapters.media.packets import (
    EventReceiver,
    PacketError,
    RtpPacket,
    TelephoneEvent,
)
from linli.adapters.media.rtp import RtpStream, StreamClosed
from linli.adapters.media.session import RtpCallSession
from linli.adapters.telephony.base import FRAME_BYTES, HungUp, Prompt


def run(coro, timeout=20.0):
    async def bounded():
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


# --- packets -----------------------------------------------------------------------------------


def test_rtp_packet_round_trips():
    packet = RtpPacket(
        payload_type=0,
        sequence=65535,
        timestamp=0xFFFFFF00,
        ssrc=0xDEADBEEF,
        payload=b"\xff" * 160,
        marker=True,
        csrcs=(1, 2),
    )
    data = packet.to_bytes()
    assert len(data) == 12 + 8 + 160
    assert data[0] >> 6 == 2 and data[1] & 0x80
    assert RtpPacket.parse(data) == packet


def test_rtp_parse_skips_extension_and_padding():
    header = bytes([0x80 | 0x20 | 0x10, 0x00]) + (7).to_bytes(2, "big")
    header += (1000).to_bytes(4, "big") + (42).to_bytes(4, "big")
    extension = b"\xbe\xde\x00\x01" + b"\x01\x02\x03\x04"
    payload = b"\x11\x22\x33"
    padding = b"\x00\x00\x03"
    packet = RtpPacket.parse(header + extension + payload + padding)
    assert packet.payload == payload
    assert (packet.sequence, packet.timestamp, packet.ssrc) == (7, 1000, 42)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x80\x00", b"\x40" + b"\x00" * 11, b"\x81\x00" + b"\x00" * 10, b"\xa0" + b"\x00" * 11],
)
def test_malformed_rtp_is_refused(data):
    with pytest.raises(PacketError):
        RtpPacket.parse(data)


def test_telephone_event_round_trips():
    event = TelephoneEvent.for_key("#", end=True, volume=13, duration=1280)
    data = event.to_bytes()
    assert data == bytes([11, 0x80 | 13]) + (1280).to_bytes(2, "big")
    assert TelephoneEvent.parse(data) == event
    assert event.key == "#"
    assert TelephoneEvent(event=16).key is None  # flash hook: not a keypad key
    with pytest.raises(PacketError):
        TelephoneEvent.for_key("x")
    with pytest.raises(PacketError):
        TelephoneEvent.parse(b"\x01\x02")


def test_each_event_is_reported_once_by_its_timestamp():
    receiver = EventReceiver()

    def packets(key, timestamp):
        updates = [TelephoneEvent.for_key(key, duration=160 * i) for i in range(1, 6)]
        ends = [TelephoneEvent.for_key(key, end=True, duration=800)] * 3
        return [
            RtpPacket(101, seq, timestamp, 99, event.to_bytes())
            for seq, event in enumerate(updates + ends)
        ]

    # "1", then "1" again (a second press: a new timestamp), then "5"
    stream = packets("1", 8000) + packets("1", 9600) + packets("5", 12000)
    heard = [receiver.receive(p) for p in stream]
    assert [k for k in heard if k] == ["1", "1", "5"]
    # A late retransmission of an event already reported is ignored.
    assert receiver.receive(packets("1", 8000)[-1]) is None


def udp_payloads(path):
    """The UDP payloads of a classic pcap file (Ethernet or Linux cooked capture)."""
    data = path.read_bytes()
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    (linktype,) = struct.unpack_from(endian + "I", data, 20)
    link_header = {1: 14, 113: 16}[linktype]
    pos, payloads = 24, []
    while pos + 16 <= len(data):
        (length,) = struct.unpack_from(endian + "I", data, pos + 8)
        frame = data[pos + 16 : pos + 16 + length]
        pos += 16 + length
        ip = frame[link_header:]
        if ip[0] >> 4 == 4 and ip[9] == 17:  # IPv4 / UDP
            payloads.append(ip[(ip[0] & 0x0F) * 4 + 8 :])
    return payloads


SIPP_PCAPS = Path("/usr/share/sip-tester")


@pytest.mark.skipif(not SIPP_PCAPS.is_dir(), reason="sip-tester (SIPp) not installed")
@pytest.mark.parametrize("name", [*"0123456789", "star", "pound"])
def test_the_key_presses_sipp_ships_are_understood(name):
    """SIPp's bundled dtmf_2833_*.pcap files are the callee presses the SIP tests replay."""
    receiver = EventReceiver()
    packets = [RtpPacket.parse(p) for p in udp_payloads(SIPP_PCAPS / f"dtmf_2833_{name}.pcap")]
    assert packets and {p.payload_type for p in packets} == {101}
    heard = [k for k in (receiver.receive(p) for p in packets) if k]
    assert heard == [{"star": "*", "pound": "#"}.get(name, name)]


# --- streams over loopback -------------------------------------------------------------------


async def pair(*, event_payload_type=101, inband_dtmf=None):
    a = await RtpStream.open()
    b = await RtpStream.open()
    a.connect(
        b.local_host, b.local_port, event_payload_type=event_payload_type, inband_dtmf=inband_dtmf
    )
    b.connect(
        a.local_host, a.local_port, event_payload_type=event_payload_type, inband_dtmf=inband_dtmf
    )
    return a, b


def prompt_audio(seconds):
    return bytes([g711.SILENCE]) * int(8000 * seconds)


def test_playback_is_framed_numbered_and_timestamped():
    async def scenario():
        listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        listener.bind(("127.0.0.1", 0))
        listener.setblocking(False)
        stream = await RtpStream.open()
        stream.connect(*listener.getsockname())
        audio = bytes(range(256)) * 3  # 768 bytes: 4 full frames and a short one
        assert await stream.play(audio, barge_in=True) == ""
        await stream.play(audio[:160], barge_in=False)  # a second talkspurt
        stream.close()
        packets = []
        while True:
            try:
                packets.append(RtpPacket.parse(listener.recv(2048)))
            except BlockingIOError:
                break
        listener.close()
        return audio, packets

    audio, packets = run(scenario())
    assert len(packets) == 6
    first, second = packets[:5], packets[5:]
    assert {p.ssrc for p in packets} == {packets[0].ssrc}
    assert all(p.payload_type == 0 and len(p.payload) == FRAME_BYTES for p in packets)
    assert b"".join(p.payload for p in first)[: len(audio)] == audio
    assert first[-1].payload.endswith(b"\xff" * 32)  # padded with silence
    for earlier, later in itertools.pairwise(packets):
        assert later.sequence == (earlier.sequence + 1) & 0xFFFF
    for earlier, later in itertools.pairwise(first):
        assert later.timestamp == (earlier.timestamp + FRAME_BYTES) & 0xFFFFFFFF
    # The next talkspurt starts after the last one's samples, with the marker bit.
    assert (second[0].timestamp - first[-1].timestamp) & 0xFFFFFFFF >= FRAME_BYTES
    assert [p.marker for p in packets] == [True, False, False, False, False, True]


def test_a_telephone_event_barges_in_on_a_prompt():
    async def scenario():
        a, b = await pair()
        audio = prompt_audio(3.0)

        async def press():
            await asyncio.sleep(0.3)
            await b.send_digits("1")

        presser = asyncio.create_task(press())
        digit = await a.play(audio, barge_in=True)
        await presser
        rest = await a.next_digit(0.3)  # the press was consumed by play(), not queued again
        a.close()
        b.close()
        return digit, rest, b.packets_received

    digit, rest, heard_by_b = run(scenario())
    assert digit == "1"
    assert rest is None
    assert 0 < heard_by_b < 150  # the prompt stopped well before its 3 s


def test_in_band_tones_are_heard_as_digits():
    async def scenario():
        # The peer negotiated no telephone-event: in-band detection is on by default.
        a, b = await pair(event_payload_type=None)
        assert a.inband_dtmf
        sender = asyncio.create_task(b.send_digits("2"))  # no event type: sends tones
        digit = await a.next_digit(3.0)
        await sender
        a.close()
        b.close()
        return digit

    assert run(scenario()) == "2"


def test_tone_audio_is_heard_when_events_are_negotiated_and_inband_forced():
    async def scenario():
        a, b = await pair(inband_dtmf=True)
        audio = g711.lin2ulaw(dtmf.tones("2", on_ms=120, off_ms=60))
        sender = asyncio.create_task(b.play(audio, barge_in=False))
        digit = await a.next_digit(3.0)
        await sender
        a.close()
        b.close()
        return digit

    assert run(scenario()) == "2"


def alaw_encode(samples):
    """Nearest A-law code for each sample (the product only decodes A-law)."""
    codes = sorted(range(256), key=g711.ALAW_DECODE_TABLE.__getitem__)
    levels = [g711.ALAW_DECODE_TABLE[c] for c in codes]
    out = []
    for s in samples:
        i = min(bisect.bisect_left(levels, s), 255)
        if i > 0 and abs(levels[i - 1] - s) <= abs(levels[i] - s):
            i -= 1
        out.append(codes[i])
    return bytes(out)


def test_in_band_tones_in_alaw_audio_are_heard():
    """Peers that send PCMA whatever was negotiated (SIPp replaying g711a.pcap)."""

    async def scenario():
        a, b = await pair(event_payload_type=None)
        audio = alaw_encode(dtmf.tones("9", on_ms=120, off_ms=60))
        for i in range(0, len(audio), FRAME_BYTES):
            packet = RtpPacket(8, i // FRAME_BYTES, i, 77, audio[i : i + FRAME_BYTES])
            b._transport.sendto(packet.to_bytes(), (a.local_host, a.local_port))
            await asyncio.sleep(0.002)
        digit = await a.next_digit(2.0)
        a.close()
        b.close()
        return digit

    assert run(scenario()) == "9"


def test_a_press_sent_both_ways_counts_once():
    async def scenario():
        a, b = await pair(inband_dtmf=True)
        tone_audio = g711.lin2ulaw(dtmf.tones("7", on_ms=120, off_ms=100))
        # A phone that sends the tone in the audio and as an event at the same time.
        await asyncio.gather(b.play(tone_audio, barge_in=False), b.send_digits("7"))
        first = await a.next_digit(1.0)
        second = await a.next_digit(0.5)
        a.close()
        b.close()
        return first, second

    assert run(scenario()) == ("7", None)


def test_digits_pressed_during_a_prompt_without_barge_in_wait_for_collect():
    async def scenario():
        a, b = await pair()
        hangups = []

        async def hangup():
            hangups.append(True)

        session = RtpCallSession(a, hangup)
        prompt = Prompt("intro", "…", prompt_audio(0.8))

        async def press():
            await asyncio.sleep(0.1)
            await b.send_digits("42", duration=0.06, gap=0.06)

        presser = asyncio.create_task(press())
        played = await session.play(prompt, barge_in=False)
        await presser
        collected = await session.collect(max_digits=2, first_timeout=1.0)
        await session.hangup()
        await session.hangup()  # idempotent
        b.close()
        return played, collected, hangups, session.hung_up

    played, collected, hangups, over = run(scenario())
    assert played == ""
    assert collected == "42"
    assert hangups == [True] and over


def test_collect_stops_at_max_digits_terminator_and_timeouts():
    async def scenario():
        a, b = await pair()
        session = RtpCallSession(a, lambda: asyncio.sleep(0))
        results = {}

        await b.send_digits("123", duration=0.04, gap=0.04)
        results["max"] = await session.collect(max_digits=2, first_timeout=1.0)
        results["leftover"] = await session.collect(
            max_digits=5, first_timeout=1.0, inter_digit_timeout=0.3
        )

        await b.send_digits("56#9", duration=0.04, gap=0.04)
        results["terminator"] = await session.collect(max_digits=5, first_timeout=1.0)
        results["after"] = await session.collect(max_digits=1, first_timeout=1.0)

        results["nothing"] = await session.collect(max_digits=3, first_timeout=0.2)

        async def slow_presser():
            await b.send_digits("8", duration=0.04)
            await asyncio.sleep(0.6)
            await b.send_digits("0", duration=0.04)

        presser = asyncio.create_task(slow_presser())
        results["inter_digit"] = await session.collect(
            max_digits=4, first_timeout=1.0, inter_digit_timeout=0.25
        )
        await presser
        results["late"] = await session.collect(max_digits=1, first_timeout=1.0)
        a.close()
        b.close()
        return results

    assert run(scenario()) == {
        "max": "12",
        "leftover": "3",
        "terminator": "56",
        "after": "9",
        "nothing": "",
        "inter_digit": "8",
        "late": "0",
    }


def test_remote_hang_up_ends_play_and_collect_with_hungup():
    async def scenario():
        a, b = await pair()
        hangups = []

        async def hangup():
            hangups.append(True)

        session = RtpCallSession(a, hangup)
        prompt = Prompt("q:fever", "…", prompt_audio(5.0))
        loop = asyncio.get_running_loop()
        loop.call_later(0.2, session.remote_hung_up)
        outcomes = []
        try:
            await session.play(prompt)
        except HungUp:
            outcomes.append("play")
        try:
            await session.collect(max_digits=1, first_timeout=1.0)
        except HungUp:
            outcomes.append("collect")
        try:
            await session.play(prompt)
        except HungUp:
            outcomes.append("play again")
        await session.hangup()  # nothing to send: the far end already hung up

        # A hang-up during collect() interrupts the wait at once.
        c, d = await pair()
        waiting = RtpCallSession(c, hangup)
        loop.call_later(0.1, waiting.remote_hung_up)
        try:
            await waiting.collect(max_digits=1, first_timeout=10.0)
        except HungUp:
            outcomes.append("waiting collect")
        for stream in (b, d):
            stream.close()
        return outcomes, hangups, session.hung_up

    outcomes, hangups, over = run(scenario())
    assert outcomes == ["play", "collect", "play again", "waiting collect"]
    assert hangups == []
    assert over


def test_a_closed_stream_refuses_work():
    async def scenario():
        stream = await RtpStream.open()
        stream.close()
        stream.close()
        with pytest.raises(StreamClosed):
            await stream.next_digit(0.1)
        with pytest.raises(HungUp):
            await stream.play(b"\xff" * 160, barge_in=True)

    run(scenario())


def test_packets_from_strangers_are_ignored():
    """Once connected, only the peer's address may press keys (127.0.0.2 is another
    loopback address on Linux)."""

    async def scenario():
        a, b = await pair()
        event = RtpPacket(101, 1, 1, 1, TelephoneEvent.for_key("9", duration=160).to_bytes())
        heard = []
        for source in ("127.0.0.2", "127.0.0.1"):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((source, 0))
            except OSError:
                sock.close()
                pytest.skip(f"cannot bind {source}")
            sock.sendto(event.to_bytes(), (a.local_host, a.local_port))
            sock.close()
            heard.append(await a.next_digit(0.3))
        a.close()
        b.close()
        return heard

    # The peer's host may send from another port (symmetric RTP is not assumed).
    assert run(scenario()) == [None, "9"]


def test_rtp_stream_records_received_audio_only_while_listening():
    async def scenario():
        a, b = await RtpStream.open(), await RtpStream.open()
        a.connect(b.local_host, b.local_port, event_payload_type=101)
        b.connect(a.local_host, a.local_port, event_payload_type=101)
        try:
            await b.play(g711.lin2ulaw([1000] * 800), barge_in=False)  # before: not kept
            await asyncio.sleep(0.05)
            a.start_recording()
            said = bytes(range(256)) * 5  # 1280 bytes: 8 frames
            await b.play(said, barge_in=False)
            await asyncio.sleep(0.1)
            heard = a.take_recording()
            await b.play(g711.lin2ulaw([1000] * 800), barge_in=False)  # after: not kept
            await asyncio.sleep(0.05)
            return said, heard, a.take_recording()
        finally:
            a.close()
            b.close()

    said, heard, after = asyncio.run(scenario())
    assert heard == said and after == b""


# --- keys before the answer ------------------------------------------------------------------


def event_packets(key, timestamp, *, packets=5, ssrc=0x1234, first_sequence=100):
    """A key press as RFC 4733 packets (updates, then the end packet three times)."""
    out = []
    for i in range(packets):
        event = TelephoneEvent.for_key(key, duration=160 * (i + 1))
        out.append(
            RtpPacket(101, first_sequence + i, timestamp, ssrc, event.to_bytes(), i == 0).to_bytes()
        )
    end = TelephoneEvent.for_key(key, end=True, duration=160 * packets)
    last = RtpPacket(101, first_sequence + packets, timestamp, ssrc, end.to_bytes())
    out += [last.to_bytes()] * 3
    return out


def tone_packets(key, ms, *, first_sequence=0):
    audio = g711.lin2ulaw(dtmf.tones(key, on_ms=ms, off_ms=0)) if key else prompt_audio(ms / 1000)
    return [
        RtpPacket(0, first_sequence + i, 160 * i, 0x99, audio[i * 160 : (i + 1) * 160]).to_bytes()
        for i in range(len(audio) // 160)
    ]


async def unanswered_stream(**connect):
    stream = await RtpStream.open()
    stream.connect("127.0.0.1", 9, **connect)
    stream.before_answer()
    return stream


def test_events_before_the_answer_and_the_tail_of_one_held_across_it_are_not_keys():
    async def scenario():
        stream = await unanswered_stream()
        peer = ("127.0.0.1", 9)
        for data in event_packets("1", 8000):  # pressed and released while it rang
            stream._datagram(data, peer)
        held = event_packets("2", 16000, first_sequence=200)
        for data in held[:2]:  # pressed while it rang…
            stream._datagram(data, peer)
        stream.answered()
        for data in held[2:]:  # …released after the 200 OK
            stream._datagram(data, peer)
        early = await stream.next_digit(0.05)
        for data in event_packets("3", 24000, first_sequence=300):  # after the answer
            stream._datagram(data, peer)
        after = await stream.next_digit(0.05), await stream.next_digit(0.05)
        stream.close()
        return early, after

    assert run(scenario()) == (None, ("3", None))


def test_in_band_tones_before_the_answer_and_the_tail_of_one_held_across_it_are_not_keys():
    async def scenario():
        stream = await unanswered_stream(event_payload_type=None)
        peer = ("127.0.0.1", 9)
        packets = tone_packets("1", 120) + tone_packets("", 100) + tone_packets("2", 120)
        for data in packets[:-5]:  # "1", a pause, 20 ms of "2"
            stream._datagram(data, peer)
        stream.answered()
        for data in packets[-5:] + tone_packets("", 100):  # the rest of "2", still held
            stream._datagram(data, peer)
        early = await stream.next_digit(0.05)
        for data in tone_packets("3", 120) + tone_packets("", 100):  # after the answer
            stream._datagram(data, peer)
        after = await stream.next_digit(0.05), await stream.next_digit(0.05)
        stream.close()
        return early, after

    assert run(scenario()) == (None, ("3", None))


def test_a_stream_never_told_of_an_answer_takes_keys_at_once():
    # Callee simulators and the loopback self-test use bare streams: no answer to wait for.
    async def scenario():
        stream = await RtpStream.open()
        stream.connect("127.0.0.1", 9)
        for data in event_packets("5", 8000):
            stream._datagram(data, ("127.0.0.1", 9))
        digit = await stream.next_digit(0.05)
        stream.close()
        return digit

    assert run(scenario()) == "5"
