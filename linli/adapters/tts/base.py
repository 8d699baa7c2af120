"""The interface every speech engine implements."""

from abc import ABC, abstractmethod


class TTSError(Exception):
    """The engine could not synthesise a text (missing binary, crash, timeout, bad output)."""


class TTS(ABC):
    """A speech engine: Chinese text in, 8 kHz mono μ-law out. `synthesise` must be
    deterministic for a given `name` and text, since its output is stored and reused across
    restarts; `name` identifies the engine, voice and settings, so changing any of them
    re-synthesises stored prompts."""

    name: str = ""
    # Whether synthesis takes long enough (a subprocess, a model) that asyncio callers should
    # run it in a thread.
    blocking: bool = True

    @abstractmethod
    def synthesise(self, text: str) -> bytes:
        """Returns the text spoken as 8 kHz mono μ-law. Raises TTSError."""
