"""SDP (RFC 4566) offer/answer for one audio stream: we offer PCMU and telephone-events and
read where the far end wants its media sent and which event payload type it chose."""

import secrets
import time
from dataclasses import dataclass

PCMU_PT = 0
EVENT_PT = 101  # our offer's dynamic payload type for telephone-event/8000 (RFC 4733)


class SdpError(ValueError):
    """An answer we cannot send media to (no audio stream, no PCMU, port 0)."""


@dataclass(frozen=True)
class MediaAnswer:
    host: str
    port: int
    payload_type: int  # the audio codec: always PCMU (0) in an acceptable answer
    event_payload_type: int | None  # None: no telephone-events, digits only in-band
    direction: str = "sendrecv"


def offer(host: str, port: int, *, session_id: int | None = None) -> bytes:
    """Our offer: PCMU/8000 (PT 0) and telephone-event/8000 (PT 101, digits 0-15), 20 ms."""
    sid = session_id if session_id is not None else secrets.randbelow(2**31)
    family = "IP6" if ":" in host else "IP4"
    lines = [
        "v=0",
        f"o=linli {sid} {int(time.time())} IN {family} {host}",
        "s=linli",
        f"c=IN {family} {host}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {PCMU_PT} {EVENT_PT}",
        f"a=rtpmap:{PCMU_PT} PCMU/8000",
        f"a=rtpmap:{EVENT_PT} telephone-event/8000",
        f"a=fmtp:{EVENT_PT} 0-15",
        "a=ptime:20",
        "a=sendrecv",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def parse_answer(body: bytes) -> MediaAnswer:
    """Reads the first audio stream of an answer (RFC 3264): its connection address (media
    level c= over session level), port, and the payload type given to telephone-event."""
    text = body.decode("utf-8", errors="replace")
    session_host = ""
    media_host = ""
    port = None
    formats: list[int] = []
    rtpmap: dict[int, str] = {}
    direction = "sendrecv"
    in_audio = False
    seen_audio = False
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            if seen_audio:
                in_audio = False
                continue  # only the first audio stream matters
            parts = value.split()
            in_audio = bool(parts) and parts[0] == "audio"
            if in_audio:
                seen_audio = True
                port = int(parts[1].split("/")[0])
                formats = [int(p) for p in parts[3:] if p.isdigit()]
        elif kind == "c":
            parts = value.split()
            address = parts[2].split("/")[0] if len(parts) >= 3 else ""
            if in_audio:
                media_host = address
            elif not seen_audio:
                session_host = address
        elif kind == "a" and (in_audio or not seen_audio):
            if value.startswith("rtpmap:") and in_audio:
                pt, _, encoding = value[7:].partition(" ")
                if pt.strip().isdigit():
                    rtpmap[int(pt)] = encoding.strip().lower()
            elif value in ("sendrecv", "sendonly", "recvonly", "inactive"):
                direction = value
    if port is None:
        raise SdpError("no audio stream in the answer")
    if port == 0:
        raise SdpError("audio stream refused (port 0)")
    host = media_host or session_host
    if not host:
        raise SdpError("no connection address")
    # A static payload type need not be in rtpmap (RFC 3551): 0 is PCMU wherever listed.
    pcmu = [pt for pt in formats if pt == PCMU_PT or rtpmap.get(pt, "").startswith("pcmu/")]
    if not pcmu:
        raise SdpError("PCMU not accepted")
    events = [pt for pt in formats if rtpmap.get(pt, "").startswith("telephone-event/8000")]
    return MediaAnswer(
        host=host,
        port=port,
        payload_type=pcmu[0],
        event_payload_type=events[0] if events else None,
        direction=direction,
    )
