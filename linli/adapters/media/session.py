"""`RtpCallSession`: an answered SIP call as the dialogue sees it (a `CallSession`), on top of
an `RtpStream`. The signalling layer owns the call: it hands us a way to hang up (send BYE)
and tells us when the far end did (`remote_hung_up`)."""

from collections.abc import Awaitable, Callable

from linli.adapters.media.rtp import RtpStream
from linli.adapters.telephony.base import CallSession, HungUp, Prompt


class RtpCallSession(CallSession):
    def __init__(self, stream: RtpStream, hangup: Callable[[], Awaitable[None]]) -> None:
        self.stream = stream
        self._hangup = hangup
        self._over = False

    @property
    def hung_up(self) -> bool:
        return self._over or self.stream.closed

    def remote_hung_up(self) -> None:
        """The far end hung up (BYE) or the call dropped: every operation in progress or to
        come raises HungUp."""
        self._over = True
        self.stream.close()

    async def hangup(self) -> None:
        if self.hung_up:
            return
        self._over = True
        try:
            await self._hangup()
        finally:
            self.stream.close()

    def _check(self) -> None:
        if self.hung_up:
            self._over = True
            raise HungUp("the call is over")

    async def play(self, prompt: Prompt, *, barge_in: bool = True) -> str:
        self._check()
        try:
            return await self.stream.play(prompt.audio, barge_in=barge_in)
        except HungUp:
            self._over = True
            raise

    def start_listening(self) -> bool:
        if self.hung_up:
            return False
        self.stream.start_recording()
        return True

    def stop_listening(self) -> bytes:
        return self.stream.take_recording()

    async def collect(
        self,
        *,
        max_digits: int,
        first_timeout: float,
        inter_digit_timeout: float = 3.0,
        terminators: str = "#",
    ) -> str:
        self._check()
        digits = ""
        try:
            while len(digits) < max_digits:
                timeout = inter_digit_timeout if digits else first_timeout
                key = await self.stream.next_digit(timeout)
                if key is None or key in terminators:
                    break
                digits += key
        except HungUp:
            self._over = True
            raise
        return digits
