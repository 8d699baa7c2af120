from linli.adapters.asr.checks import check_asr_settings


def test_keypad_only_needs_nothing(settings):
    """Without a model the robot takes the keypad only: nothing to check."""
    settings.LINLI_VOICE_ASR_MODEL = ""
    assert check_asr_settings() == []


def test_a_missing_model_folder_or_vosk_is_an_error(settings, tmp_path, monkeypatch):
    settings.LINLI_VOICE_ASR_MODEL = str(tmp_path / "missing")
    monkeypatch.setattr("linli.adapters.asr.checks.importlib.util.find_spec", lambda name: None)
    messages = check_asr_settings()
    assert [m.id for m in messages] == ["linli.E053", "linli.E053"]
    assert "no model folder" in messages[0].msg and "pip install vosk" in messages[1].msg
