"""The interface every speech recogniser implements."""

from abc import ABC, abstractmethod


class Recogniser(ABC):
    """Offline speech recognition of a short answer heard on a call."""

    @abstractmethod
    def recognise(self, ulaw_audio: bytes) -> str:
        """Returns the text heard in 8 kHz μ-law audio ('' for nothing recognisable).
        Blocking and CPU-bound: a call runs it in a worker thread."""
