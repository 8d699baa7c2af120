"""RTP packets (RFC 3550 §5.1) and telephone-event payloads (RFC 4733 §2.3).

Only what a telephone call needs: building packets with our SSRC/sequence/timestamp, and
parsing whatever a peer sends (CSRC lists, header extensions and padding are skipped over).
"""

import struct
from dataclasses import dataclass

RTP_VERSION = 2
PCMU = 0  # static payload type of G.711 μ-law (RFC 3551)
PCMA = 8  # G.711 A-law
EVENT_KEYS = "0123456789*#ABCD"  # RFC 4733 §3.2: events 0-15 are the keypad

_HEADER = struct.Struct("!BBHII")
_EVENT = struct.Struct("!BBH")


class PacketError(ValueError):
    """A datagram that is not a well-formed RTP packet (or event payload)."""


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False
    csrcs: tuple[int, ...] = ()

    def to_bytes(self) -> bytes:
        if not 0 <= self.payload_type < 128:
            raise PacketError("payload type out of range")
        if len(self.csrcs) > 15:
            raise PacketError("at most 15 CSRCs")
        first = (RTP_VERSION << 6) | len(self.csrcs)
        second = (0x80 if self.marker else 0) | self.payload_type
        header = _HEADER.pack(
            first,
            second,
            self.sequence & 0xFFFF,
            self.timestamp & 0xFFFFFFFF,
            self.ssrc & 0xFFFFFFFF,
        )
        return header + b"".join(struct.pack("!I", c) for c in self.csrcs) + self.payload

    @classmethod
    def parse(cls, data: bytes) -> "RtpPacket":
        if len(data) < _HEADER.size:
            raise PacketError("shorter than an RTP header")
        first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
        if first >> 6 != RTP_VERSION:
            raise PacketError("not RTP version 2")
        pos = _HEADER.size
        count = first & 0x0F
        if len(data) < pos + 4 * count:
            raise PacketError("truncated CSRC list")
        csrcs = struct.unpack_from(f"!{count}I", data, pos)
        pos += 4 * count
        if first & 0x10:  # header extension: 16-bit profile, 16-bit length in words
            if len(data) < pos + 4:
                raise PacketError("truncated header extension")
            (words,) = struct.unpack_from("!H", data, pos + 2)
            pos += 4 + 4 * words
        end = len(data)
        if first & 0x20:  # padding: the last byte counts the padding bytes
            if end == 0 or data[-1] == 0:
                raise PacketError("bad padding")
            end -= data[-1]
        if end < pos:
            raise PacketError("truncated packet")
        return cls(
            payload_type=second & 0x7F,
            sequence=sequence,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=bytes(data[pos:end]),
            marker=bool(second & 0x80),
            csrcs=tuple(csrcs),
        )


@dataclass(frozen=True)
class TelephoneEvent:
    """One RFC 4733 telephone-event payload. `duration` is in timestamp units (8000 per
    second) since the event's start, which the RTP timestamp of its packets marks; `volume`
    is the power level in −dBm0 (0-63)."""

    event: int
    end: bool = False
    volume: int = 10
    duration: int = 0

    @property
    def key(self) -> str | None:
        """The keypad key of a DTMF event, None for other events (tones, flash…)."""
        return EVENT_KEYS[self.event] if self.event < len(EVENT_KEYS) else None

    @classmethod
    def for_key(cls, key: str, **fields: int | bool) -> "TelephoneEvent":
        index = EVENT_KEYS.find(key.upper()) if len(key) == 1 else -1
        if index < 0:
            raise PacketError(f"not a keypad key: {key!r}")
        return cls(event=index, **fields)

    def to_bytes(self) -> bytes:
        if not 0 <= self.event < 256 or not 0 <= self.volume < 64:
            raise PacketError("event or volume out of range")
        flags = (0x80 if self.end else 0) | self.volume
        return _EVENT.pack(self.event, flags, min(self.duration, 0xFFFF))

    @classmethod
    def parse(cls, payload: bytes) -> "TelephoneEvent":
        if len(payload) < _EVENT.size:
            raise PacketError("telephone-event payload shorter than 4 bytes")
        # Several events may share a packet (redundancy, RFC 4733 §2.6); the first is current.
        event, flags, duration = _EVENT.unpack_from(payload)
        return cls(event=event, end=bool(flags & 0x80), volume=flags & 0x3F, duration=duration)


class EventReceiver:
    """Turns the stream of telephone-event packets into key presses: an event is sent as
    many packets (updates every ~50 ms, the end packet three times), all carrying the RTP
    timestamp of the event's start, so each (SSRC, timestamp) is reported once — on its
    first packet, so that a press interrupts a prompt at once."""

    def __init__(self, memory: int = 64) -> None:
        self._seen: dict[tuple[int, int], None] = {}
        self._memory = memory

    def receive(self, packet: RtpPacket) -> str | None:
        event = TelephoneEvent.parse(packet.payload)
        ident = (packet.ssrc, packet.timestamp)
        if ident in self._seen:
            return None
        self._seen[ident] = None
        if len(self._seen) > self._memory:
            del self._seen[next(iter(self._seen))]  # oldest first: dicts keep insertion order
        return event.key
