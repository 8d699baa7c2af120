"""The media path of a direct SIP call: G.711 μ-law, RTP with RFC 4733 telephone-events, an
in-band DTMF detector, and the CallSession built on them (see linli.adapters.telephony.base)."""

from linli.adapters.media.g711 import lin2ulaw, ulaw2lin, wav_to_ulaw
from linli.adapters.media.rtp import RtpStream, StreamClosed
from linli.adapters.media.session import RtpCallSession

__all__ = ["RtpCallSession", "RtpStream", "StreamClosed", "lin2ulaw", "ulaw2lin", "wav_to_ulaw"]
