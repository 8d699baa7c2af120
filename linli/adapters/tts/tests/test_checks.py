from linli.adapters.tts.checks import check_tts_settings


def _ids(messages):
    return [message.id for message in messages]


def test_an_engine_that_cannot_be_created_is_an_error(settings):
    """A path to nothing, or to a class that is not a TTS engine, fails the check."""
    settings.LINLI_VOICE_TTS = "linli.adapters.tts.nowhere.Engine"
    assert _ids(check_tts_settings()) == ["linli.E052"]
    settings.LINLI_VOICE_TTS = "linli.adapters.sms.message.SmsMessage"
    assert _ids(check_tts_settings()) == ["linli.E052"]


def test_the_fake_engine_passes_outside_production_and_warns_in_it(settings):
    """Tests speak in tones; production warns that nobody would hear words."""
    settings.LINLI_VOICE_TTS = "fake"
    settings.LINLI_ENV = "embedded"
    assert check_tts_settings() == []
    settings.LINLI_ENV = "production"
    assert _ids(check_tts_settings()) == ["linli.W052"]


def test_espeak_without_its_binary_warns_in_production(settings, monkeypatch):
    settings.LINLI_VOICE_TTS = "espeak"
    settings.LINLI_ENV = "production"
    monkeypatch.setattr("linli.adapters.tts.checks.shutil.which", lambda name: None)
    assert _ids(check_tts_settings()) == ["linli.W052"]
