"""Engines for tests that hand them to worker processes: a worker unpickles an engine by
importing its module, so these live where no Django model is imported."""

from linli.adapters.tts import FakeTTS


class BlockingTTS(FakeTTS):
    """A slow engine as the dialer sees one (espeak-ng): to be kept off the event loop."""

    name = "fake-blocking/1"
    blocking = True
