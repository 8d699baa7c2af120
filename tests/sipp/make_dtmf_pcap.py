"""Writes a pcap of RTP telephone-events (RFC 4733) for SIPp's play_pcap_audio: one key press,
the way a phone sends it: a first packet with the marker bit, updates every 20 ms with a
growing duration, and the end-of-event packet three times. SIPp replays the UDP payloads to
the caller's media address with the pcap's timing, so only the RTP inside matters; the
Ethernet/IPv4/UDP wrapping is what SIPp's pcap reader expects.

    python tests/sipp/make_dtmf_pcap.py 2 tests/sipp/dtmf_4733_2.pcap
"""

import struct
import sys

EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
EVENT_PT = 101  # what the SIPp scenarios put in their answer SDP


def rtp_event(
    seq: int,
    timestamp: int,
    ssrc: int,
    event: int,
    duration: int,
    *,
    end: bool,
    marker: bool,
    volume: int = 10,
) -> bytes:
    header = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | EVENT_PT, seq, timestamp, ssrc)
    flags = (0x80 if end else 0) | (volume & 0x3F)
    return header + struct.pack("!BBH", event, flags, duration)


def udp_frame(payload: bytes, src_port: int = 49152, dst_port: int = 10000) -> bytes:
    """Ethernet II + IPv4 + UDP around one RTP packet (checksums left 0: SIPp ignores them)."""
    udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(udp),
        0,
        0,
        64,
        17,
        0,
        bytes([192, 168, 0, 3]),
        bytes([192, 168, 0, 1]),
    )
    ether = bytes(6) + bytes(6) + b"\x08\x00"
    return ether + ip + udp


def key_press(key: str, *, packets: int = 8, start: float = 1.0) -> list[tuple[float, bytes]]:
    """RTP packets of one key press lasting `packets` × 20 ms, with their send times."""
    event, ssrc, seq, timestamp = EVENTS[key], 0x4C494E4C, 1000, 16000
    out = []
    for i in range(packets):
        out.append(
            (
                start + i * 0.02,
                rtp_event(seq + i, timestamp, ssrc, event, 160 * (i + 1), end=False, marker=i == 0),
            )
        )
    end_seq, end_duration = seq + packets, 160 * (packets + 1)
    for j in range(3):  # the end packet is sent three times (RFC 4733 §2.5.1.4)
        out.append(
            (
                start + packets * 0.02 + j * 0.0001,
                rtp_event(end_seq, timestamp, ssrc, event, end_duration, end=True, marker=False),
            )
        )
    return out


def write_pcap(path: str, packets: list[tuple[float, bytes]]) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # link type Ethernet
        for when, rtp in packets:
            frame = udp_frame(rtp)
            seconds, micros = int(when), round((when - int(when)) * 1_000_000)
            f.write(struct.pack("<IIII", seconds, micros, len(frame), len(frame)) + frame)


if __name__ == "__main__":
    keys, target = sys.argv[1], sys.argv[2]
    write_pcap(target, key_press(keys))
