"""Direct SIP: an asyncio user agent client over UDP (RFC 3261) placing the robot's calls,
with SDP offer/answer, digest authentication and RTP media through linli.adapters.media."""

from .carrier import SipCarrier, SipConfig

__all__ = ["SipCarrier", "SipConfig"]
