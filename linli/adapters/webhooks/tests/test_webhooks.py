"""The webhook adapter: the file default, the signed HTTP backend against a receiver on
loopback, and signature verification."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from linli.adapters import webhooks
from linli.adapters.webhooks.file import FileBackend, read_log
from linli.adapters.webhooks.http import HttpBackend


class Receiver(BaseHTTPRequestHandler):
    received: list = []
    answer = b'{"errcode": 0}'

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(Receiver.answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    Receiver.answer = b'{"errcode": 0}'
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def test_file_backend_logs_each_message(tmp_path):
    with FileBackend(folder=tmp_path) as backend:
        results = backend.send_messages(
            [webhooks.WebhookMessage(text="工单#1 超时", reference="r1")]
        )
    assert results[0].accepted
    assert [(r["text"], r["reference"]) for r in read_log(tmp_path)] == [("工单#1 超时", "r1")]


def test_http_backend_signs_the_body(receiver):
    """A plain JSON receiver gets the message with an HMAC signature it can verify; a
    replayed or altered body fails verification."""
    backend = HttpBackend(url=receiver, secret="s3cret", style="json")
    result = backend.send_messages(
        [webhooks.WebhookMessage(text="你好", reference="r2", data={"order": 7})]
    )[0]
    assert result.accepted
    _path, headers, body = Receiver.received[0]
    assert json.loads(body) == {"text": "你好", "reference": "r2", "data": {"order": 7}}
    timestamp, signature = headers["X-Linli-Timestamp"], headers["X-Linli-Signature"]
    assert webhooks.verify_signature(
        secret="s3cret", timestamp=timestamp, body=body, signature=signature
    )
    assert not webhooks.verify_signature(
        secret="s3cret", timestamp=timestamp, body=body + b" ", signature=signature
    )
    assert not webhooks.verify_signature(
        secret="s3cret",
        timestamp=timestamp,
        body=body,
        signature=signature,
        now=int(timestamp) + 3600,
    )


def test_wecom_and_dingtalk_shapes(receiver):
    HttpBackend(url=receiver, secret="", style="wecom").send_messages(
        [webhooks.WebhookMessage(text="甲")]
    )
    HttpBackend(url=receiver, secret="k", style="dingtalk").send_messages(
        [webhooks.WebhookMessage(text="乙")]
    )
    (wecom_path, _h, wecom_body), (ding_path, _h2, ding_body) = Receiver.received
    assert json.loads(wecom_body) == {"msgtype": "text", "text": {"content": "甲"}}
    assert wecom_path == "/hook"
    assert json.loads(ding_body)["text"]["content"] == "乙"
    assert "timestamp=" in ding_path and "sign=" in ding_path


def test_refusal_and_unreachable_are_results_not_exceptions(receiver):
    Receiver.answer = b'{"errcode": 93000, "errmsg": "invalid webhook url"}'
    refused = HttpBackend(url=receiver, style="wecom").send_messages(
        [webhooks.WebhookMessage(text="丙")]
    )[0]
    assert not refused.accepted and "93000" in refused.error
    down = HttpBackend(url="http://127.0.0.1:9/none", style="json", timeout=2).send_messages(
        [webhooks.WebhookMessage(text="丁")]
    )[0]
    assert not down.accepted and down.error


def test_bad_configuration_fails_loudly():
    with pytest.raises(ImproperlyConfigured):
        HttpBackend(url="file:///etc/passwd")
    with pytest.raises(ImproperlyConfigured):
        webhooks.get_backend("linli.adapters.sms.locmem.LocmemBackend")


def test_system_check_refuses_a_backend_that_cannot_be_made(settings):
    from linli.adapters.webhooks.checks import check_webhook_settings

    settings.LINLI_WEBHOOK_BACKEND = "linli.adapters.webhooks.http.HttpBackend"
    settings.LINLI_WEBHOOK_URL = ""
    assert [m.id for m in check_webhook_settings()] == ["linli.E070"]
    settings.LINLI_WEBHOOK_URL = "https://qyapi.example/cgi-bin/webhook/send?key=k"
    settings.LINLI_ENV = "production"
    settings.LINLI_WEBHOOK_SECRET = ""
    assert [m.id for m in check_webhook_settings()] == ["linli.W070"]
