"""Writes a pcap of one RFC 4733 key press at a chosen RTP timestamp, for scenarios that press
the same key more than once in a call.

A receiver reports each (SSRC, timestamp) once, as RFC 4733 says an event is identified
(linli.adapters.media.packets.EventReceiver), and SIPp's play_pcap_audio replays a pcap's RTP
unchanged: the same pcap played twice in one call is one press, not two. So every further
press of a key in a call needs a pcap of its own with a later timestamp (the first press can be
the pcap SIPp ships, /usr/share/sip-tester/dtmf_2833_1.pcap, or dtmf_4733_2.pcap).

    python tests/sipp/make_dtmf_press.py 1 40000 tests/sipp/dtmf_4733_1_b.pcap
    python tests/sipp/make_dtmf_press.py 1 64000 tests/sipp/dtmf_4733_1_c.pcap
    python tests/sipp/make_dtmf_press.py 2 40000 tests/sipp/dtmf_4733_2_b.pcap

An optional fourth argument holds the key longer (packets of 20 ms; 8 by default): a key
still held when the call is answered (uas_robot_early_keys.xml):

    python tests/sipp/make_dtmf_press.py 1 88000 tests/sipp/dtmf_4733_1_held.pcap 50
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_dtmf_pcap import EVENTS, rtp_event, write_pcap

SSRC = 0x4C494E4C  # the one dtmf_4733_2.pcap uses: one caller's stream, later presses


def press(key: str, timestamp: int, *, packets: int = 8, start: float = 1.0):
    """RTP packets of one press of `key` lasting `packets` × 20 ms, starting at RTP time
    `timestamp` (a different value for every press of a call), with their send times."""
    event, seq = EVENTS[key], 1000 + timestamp // 160
    out = [
        (
            start + i * 0.02,
            rtp_event(seq + i, timestamp, SSRC, event, 160 * (i + 1), end=False, marker=i == 0),
        )
        for i in range(packets)
    ]
    end_duration = 160 * (packets + 1)
    for j in range(3):  # the end packet is sent three times (RFC 4733 §2.5.1.4)
        out.append(
            (
                start + packets * 0.02 + j * 0.0001,
                rtp_event(
                    seq + packets, timestamp, SSRC, event, end_duration, end=True, marker=False
                ),
            )
        )
    return out


if __name__ == "__main__":
    key, timestamp, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    packets = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    write_pcap(target, press(key, timestamp, packets=packets))
