"""`RtpStream`: one call's media over UDP — paced μ-law playback out, keypad digits in.

Out: prompts are cut into 160-byte (20 ms) frames sent on a 20 ms schedule anchored at the
start of the prompt (so timer jitter never accumulates), with one SSRC, consecutive sequence
numbers, timestamps advancing 160 per frame (and with the wall clock across pauses, RFC 3550
§5.1), and the marker bit on the first packet of each prompt (a talkspurt).

In: RFC 4733 telephone-events (when the peer negotiated them) and in-band tones found by the
Goertzel detector in the received PCMU audio both feed one digit queue; a press that arrives
both ways is counted once. In-band detection costs CPU (see `linli.adapters.media.dtmf`), so by
default it runs only when the peer did not negotiate telephone-event; `inband_dtmf=True`
forces it on (carriers that negotiate events but then strip them). Between start_recording()
and take_recording() the received audio is also kept, as μ-law, for a spoken answer
(linli.adapters.asr).

Keys pressed before the call is answered (during early media, 183 with SDP) answer nothing:
answered() drops them, and the rest of a key still held at the 200 OK (more packets of an
RFC 4733 event that began before it, more of a tone already heard) is not counted later.
"""

import asyncio
import contextlib
import ipaddress
import logging
import random
import struct
from collections import deque

from linli.adapters.media import g711
from linli.adapters.media.dtmf import DtmfDetector, tones
from linli.adapters.media.packets import (
    PCMA,
    PCMU,
    EventReceiver,
    PacketError,
    RtpPacket,
    TelephoneEvent,
)
from linli.adapters.telephony.base import DIGITS, FRAME_BYTES, FRAME_MS, SAMPLE_RATE, HungUp

log = logging.getLogger(__name__)

_HEADER = struct.Struct("!BBHII")  # RFC 3550 §5.1 without CSRCs: V=2, M|PT, seq, ts, SSRC

FRAME_SECONDS = FRAME_MS / 1000


class StreamClosed(HungUp):
    """The stream was closed (the call ended) while it was being used."""


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, stream: "RtpStream") -> None:
        self.stream = stream

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.stream._datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port-unreachable from a peer that has gone away: the signalling layer tells us
        # when the call is over, the media path just keeps quiet.
        log.debug("RTP socket error: %s", exc)


class RtpStream:
    local_host: str
    local_port: int

    def __init__(self, *, dedup_window: float = 0.15) -> None:
        # Use `await RtpStream.open()`: the socket is created there.
        self._transport: asyncio.DatagramTransport | None = None
        self._remote: tuple[str, int] | None = None
        self._remote_ip: str | None = None
        self.payload_type = PCMU
        self.event_payload_type: int | None = None
        self.inband_dtmf = True  # until connect() learns whether events were negotiated
        self._detector = DtmfDetector()
        self._events = EventReceiver()
        self._digits: deque[str] = deque()
        self._digit_ready = asyncio.Event()
        self._recent: deque[tuple[str, str, float]] = deque()  # (key, source, arrival)
        # False between before_answer() and answered(): keys are heard (so the tail of one
        # held across the answer is known) but not queued.
        self._answered = True
        self.dedup_window = dedup_window
        self._ssrc = random.getrandbits(32)
        self._sequence = random.getrandbits(16)
        self._ts_origin = random.getrandbits(32)
        self._ts_next = 0  # timestamp (relative to origin) the next talkspurt may start at
        self._t_open = 0.0
        self._closed = False
        self.packets_sent = 0
        self.packets_received = 0
        # The resident's voice, kept only between start_recording() and take_recording().
        self._recording: bytearray | None = None
        self.max_recording_bytes = 15 * SAMPLE_RATE

    # --- lifecycle ---------------------------------------------------------------------------

    @classmethod
    async def open(cls, host: str = "127.0.0.1", port: int = 0) -> "RtpStream":
        """Binds a UDP socket for the call's media (port 0: any free port)."""
        loop = asyncio.get_running_loop()
        stream = cls()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(stream), local_addr=(host, port)
        )
        stream._transport = transport
        stream.local_host, stream.local_port = transport.get_extra_info("sockname")[:2]
        stream._t_open = loop.time()
        return stream

    def connect(
        self,
        host: str,
        port: int,
        *,
        payload_type: int = PCMU,
        event_payload_type: int | None = 101,
        inband_dtmf: bool | None = None,
    ) -> None:
        """Points the stream at the peer's media address from the answer SDP. `payload_type`
        labels our PCMU packets; `event_payload_type` is the negotiated telephone-event type
        (None: not negotiated). `inband_dtmf`: None listens for tones in the audio only when
        events were not negotiated; True/False force it."""
        self._remote = (host, port)
        try:
            self._remote_ip = str(ipaddress.ip_address(host))
        except ValueError:
            self._remote_ip = None  # a host name: no source filtering
        self.payload_type = payload_type
        self.event_payload_type = event_payload_type
        self.inband_dtmf = event_payload_type is None if inband_dtmf is None else inband_dtmf

    def before_answer(self) -> None:
        """The call is not answered yet: keys received from now on (early media after a 183
        with SDP) are not queued until answered()."""
        self._answered = False

    def answered(self) -> None:
        """The call was answered (200 OK): keys pressed before it are dropped, and so is the
        tail of one still held — an RFC 4733 event that began before the answer, or an in-band
        tone already in progress — so only presses that start after the answer count."""
        if self._answered:
            return
        self._answered = True
        self._digits.clear()
        self._detector.hold()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Releases the socket; anything waiting on the stream raises StreamClosed
        (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._transport is not None:
            self._transport.close()
        self._digit_ready.set()

    def _check_open(self) -> None:
        if self._closed:
            raise StreamClosed("the media stream is closed")

    # --- sending -----------------------------------------------------------------------------

    def _clock(self) -> int:
        """Samples elapsed since the stream opened: the RTP clock while nothing is sent."""
        return round((asyncio.get_running_loop().time() - self._t_open) * SAMPLE_RATE)

    def _send(self, payload_type: int, payload: bytes, timestamp: int, marker: bool) -> None:
        if self._remote is None or self._transport is None or self._closed:
            return
        # The hot path of every call (50 packets a second): the header packed directly.
        header = _HEADER.pack(
            0x80,
            (0x80 if marker else 0) | payload_type,
            self._sequence,
            (self._ts_origin + timestamp) & 0xFFFFFFFF,
            self._ssrc,
        )
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._transport.sendto(header + payload, self._remote)
        self.packets_sent += 1

    def _talkspurt_start(self) -> int:
        # Follow the wall clock across pauses, but never reuse a timestamp already sent.
        return max(self._clock(), self._ts_next)

    async def play(self, audio: bytes, *, barge_in: bool) -> str:
        """Sends μ-law audio paced at one 20 ms frame per 20 ms (the last frame padded with
        silence) and returns once it has played. With barge_in, returns the first digit as
        soon as one is pressed (also one already queued before the prompt: type-ahead), which it
        consumes; otherwise returns '' and digits stay queued for next_digit()."""
        self._check_open()
        if barge_in and self._digits:
            return self._digits.popleft()
        loop = asyncio.get_running_loop()
        frames = (len(audio) + FRAME_BYTES - 1) // FRAME_BYTES
        base = self._talkspurt_start()
        start = loop.time()
        sent = 0
        try:
            for i in range(frames):
                delay = start + i * FRAME_SECONDS - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -3 * FRAME_SECONDS:
                    # The event loop stalled: carry on from now rather than burst to catch up.
                    start -= delay
                self._check_open()
                if barge_in and self._digits:
                    return self._digits.popleft()
                frame = audio[i * FRAME_BYTES : (i + 1) * FRAME_BYTES]
                if len(frame) < FRAME_BYTES:
                    frame += bytes([g711.SILENCE]) * (FRAME_BYTES - len(frame))
                self._send(self.payload_type, frame, base + i * FRAME_BYTES, marker=i == 0)
                sent = i + 1
            # The last frame is still being heard for 20 ms.
            delay = start + frames * FRAME_SECONDS - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._check_open()
            if barge_in and self._digits:
                return self._digits.popleft()
            return ""
        finally:
            self._ts_next = base + sent * FRAME_BYTES

    async def send_digits(
        self,
        digits: str,
        *,
        duration: float = 0.1,
        gap: float = 0.06,
        volume: int = 10,
    ) -> None:
        """Presses keys towards the peer: RFC 4733 events when a telephone-event payload
        type was negotiated (updates every 20 ms, the end packet sent three times), in-band
        tones otherwise. For tests, the loopback self-test and callee simulators."""
        for key in digits:
            TelephoneEvent.for_key(key)  # rejects anything not on a keypad before sending
        if self.event_payload_type is None:
            audio = g711.lin2ulaw(
                tones(digits, on_ms=duration * 1000, off_ms=gap * 1000, amplitude=7000)
            )
            await self.play(audio, barge_in=False)
            return
        loop = asyncio.get_running_loop()
        steps = max(1, round(duration / FRAME_SECONDS))
        for key in digits:
            self._check_open()
            timestamp = self._talkspurt_start()
            start = loop.time()
            for i in range(1, steps + 1):
                event = TelephoneEvent.for_key(key, volume=volume, duration=i * FRAME_BYTES)
                self._send(self.event_payload_type, event.to_bytes(), timestamp, marker=i == 1)
                if i < steps:
                    delay = start + i * FRAME_SECONDS - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
            end = TelephoneEvent.for_key(key, end=True, volume=volume, duration=steps * FRAME_BYTES)
            for _ in range(3):
                self._send(self.event_payload_type, end.to_bytes(), timestamp, marker=False)
            self._ts_next = timestamp + steps * FRAME_BYTES
            await asyncio.sleep(gap)

    # --- receiving ---------------------------------------------------------------------------

    def _datagram(self, data: bytes, addr: tuple) -> None:
        if self._closed or (self._remote_ip is not None and addr[0] != self._remote_ip):
            return
        self.packets_received += 1
        if (
            len(data) > 1
            and (data[1] & 0x7F) != self.event_payload_type
            and not self.inband_dtmf
            and self._recording is None
        ):
            return  # audio nobody listens to: not worth parsing
        try:
            packet = RtpPacket.parse(data)
        except PacketError:
            return
        if self.event_payload_type is not None and packet.payload_type == self.event_payload_type:
            try:
                key = self._events.receive(packet)
            except PacketError:
                return
            # The receiver remembers the events it has seen, those before the answer too, so the
            # later packets of a key held across the answer give nothing.
            if key is not None and self._answered:
                self._add_digit(key, "event")
        elif packet.payload_type in (PCMU, PCMA, self.payload_type):
            if self._recording is not None:
                self._record(packet)
            if self.inband_dtmf:
                decode = g711.alaw2lin if packet.payload_type == PCMA else g711.ulaw2lin
                for key in self._detector.feed(decode(packet.payload)):
                    if self._answered:
                        self._add_digit(key, "tone")

    def _record(self, packet: RtpPacket) -> None:
        audio = packet.payload
        if packet.payload_type == PCMA:
            audio = g711.lin2ulaw(g711.alaw2lin(audio))
        room = self.max_recording_bytes - len(self._recording)
        if room > 0:
            self._recording += audio[:room]

    def start_recording(self) -> None:
        """Starts keeping the received audio (as μ-law), for a spoken answer; any earlier
        recording is dropped."""
        self._recording = bytearray()

    def take_recording(self) -> bytes:
        """Stops recording and returns the μ-law audio received since start_recording()
        (in arrival order, at most `max_recording_bytes`)."""
        audio, self._recording = bytes(self._recording or b""), None
        return audio

    def _add_digit(self, key: str, source: str) -> None:
        if key not in DIGITS:
            return  # A-D and non-keypad events mean nothing to the robot
        now = asyncio.get_running_loop().time()
        recent = self._recent
        while recent and now - recent[0][2] > self.dedup_window:
            recent.popleft()
        for entry in recent:
            if entry[0] == key and entry[1] != source:
                recent.remove(entry)  # the same press heard the other way: count it once
                return
        recent.append((key, source, now))
        self._digits.append(key)
        self._digit_ready.set()

    async def next_digit(self, timeout: float) -> str | None:
        """The next key pressed (queued ones first), or None after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._check_open()
            if self._digits:
                return self._digits.popleft()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            self._digit_ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._digit_ready.wait(), remaining)

    def clear_digits(self) -> None:
        """Drops keys pressed but not yet read."""
        self._digits.clear()
