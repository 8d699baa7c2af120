from linli.adapters.sms.checks import check_sms_settings


def _ids(messages):
    return [message.id for message in messages]


def test_local_backends_pass_outside_production(settings):
    """In the embedded mode the console backend raises nothing."""
    settings.LINLI_ENV = "embedded"
    settings.LINLI_SMS_BACKEND = "linli.adapters.sms.console.ConsoleBackend"
    assert check_sms_settings() == []


def test_a_backend_that_cannot_be_created_is_an_error(settings):
    """A bad path, or the gateway backend without a URL, fails the check (linli.E050)."""
    settings.LINLI_SMS_BACKEND = "linli.adapters.sms.nowhere.Backend"
    assert _ids(check_sms_settings()) == ["linli.E050"]
    settings.LINLI_SMS_BACKEND = "linli.adapters.sms.http.HttpGatewayBackend"
    settings.LINLI_SMS_GATEWAY_URL = ""
    assert _ids(check_sms_settings()) == ["linli.E050"]


def test_production_warns_when_no_sms_leaves_the_machine(settings):
    """In production the console and locmem backends are a warning (linli.W050)."""
    settings.LINLI_ENV = "production"
    for path in ("console.ConsoleBackend", "locmem.LocmemBackend"):
        settings.LINLI_SMS_BACKEND = f"linli.adapters.sms.{path}"
        assert _ids(check_sms_settings()) == ["linli.W050"]


def test_production_warns_about_plain_http_to_another_host(settings):
    """A gateway on another host over plain http is a warning (linli.W051); https or a
    bridge on loopback is not."""
    settings.LINLI_ENV = "production"
    settings.LINLI_SMS_BACKEND = "linli.adapters.sms.http.HttpGatewayBackend"
    settings.LINLI_SMS_GATEWAY_URL = "http://sms.gov.example/send"
    assert _ids(check_sms_settings()) == ["linli.W051"]
    for url in ("https://sms.gov.example/send", "http://127.0.0.1:8088/send"):
        settings.LINLI_SMS_GATEWAY_URL = url
        assert check_sms_settings() == []
