"""The HTTP gateway backend against a real HTTP server on 127.0.0.1 (no external network).

No test measures time: pauses between attempts are recorded through a stand-in for the
module's `time` (`sleeps`), a slow answer is one the gateway holds until the test releases it,
and concurrency is proven by a barrier only requests in flight together can pass.
"""

import json
import logging
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured

from linli.adapters import sms
from linli.adapters.sms import http as http_backend
from linli.adapters.sms.http import HttpGatewayBackend

PHONE = "13812345678"
TEXT = "【邻里】请点击 https://linli.example.cn/h/4C92.1mE7Rq.AbCdEfGhIjKlMnOpQrStUv/ 填写排查问卷"


@dataclass
class Answer:
    status: int = 200
    body: object = None  # JSON-encoded unless bytes
    headers: dict = field(default_factory=dict)
    # Held until the test sets it (at most HOLD_SECONDS): an answer slower than any timeout.
    hold: threading.Event | None = None
    # Answered only once as many requests as the barrier's parties are in flight together.
    barrier: threading.Barrier | None = None


HOLD_SECONDS = 10


@dataclass
class Recorded:
    path: str
    headers: dict
    body: dict


class Gateway:
    """A scripted SMS gateway: answers from `script` in turn, then 200 {"status": "queued"}."""

    def __init__(self):
        self.requests: list[Recorded] = []
        self.script: list[Answer] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                with gateway._lock:
                    gateway.requests.append(
                        Recorded(self.path, dict(self.headers), json.loads(raw.decode()))
                    )
                    number = len(gateway.requests)
                    answer = gateway.script.pop(0) if gateway.script else Answer()
                    gateway.in_flight += 1
                    gateway.most_in_flight = max(gateway.most_in_flight, gateway.in_flight)
                try:
                    self._answer(answer, number)
                finally:
                    with gateway._lock:
                        gateway.in_flight -= 1

            def _answer(self, answer, number):
                if answer.hold is not None:
                    answer.hold.wait(HOLD_SECONDS)
                if answer.barrier is not None:
                    # A broken barrier (requests one after another) answers 500 and stays broken.
                    try:
                        answer.barrier.wait(HOLD_SECONDS)
                    except threading.BrokenBarrierError:
                        answer = Answer(500, {"error": "requests did not overlap"})
                body = answer.body
                if body is None:
                    body = {"id": f"gw-{number}", "status": "queued"}
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms/send"

    def answer(self, *answers: Answer) -> None:
        self.script.extend(answers)


@pytest.fixture
def gateway(monkeypatch):
    monkeypatch.setenv("no_proxy", "*")  # a proxy from the environment must not see loopback
    monkeypatch.setenv("NO_PROXY", "*")
    gw = Gateway()
    thread = threading.Thread(target=gw.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield gw
    gw.server.shutdown()
    gw.server.server_close()
    thread.join(5)


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Returns the pauses the backend takes between attempts, which it then does not wait."""
    taken: list[float] = []
    monkeypatch.setattr(http_backend, "time", SimpleNamespace(sleep=taken.append))
    return taken


def _backend(gateway, **options):
    options = {"token": "s3cret-token", "backoff": 0.01, **options}
    return HttpGatewayBackend(url=gateway.url, **options)


def _send(backend, to=PHONE, text=TEXT, reference="attempt:42"):
    return backend.send_messages([sms.SmsMessage(to=to, text=text, reference=reference)])[0]


def test_posts_json_with_bearer_token_and_maps_the_answer(gateway):
    """The message is posted as JSON with the token as a bearer header; the answer's id and
    status become the result."""
    result = _send(_backend(gateway))
    assert result == sms.SmsResult(
        to_masked="138****5678",
        reference="attempt:42",
        accepted=True,
        provider_id="gw-1",
        status="queued",
        segments=2,
    )
    (request,) = gateway.requests
    assert request.path == "/sms/send"
    assert request.body == {"to": PHONE, "text": TEXT, "reference": "attempt:42", "segments": 2}
    assert request.headers["Authorization"] == "Bearer s3cret-token"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert len(request.headers["Idempotency-Key"]) == 32


def test_settings_configure_the_backend(gateway, settings):
    """Without options, URL, token, timeout and retries come from settings."""
    settings.LINLI_SMS_BACKEND = "linli.adapters.sms.http.HttpGatewayBackend"
    settings.LINLI_SMS_GATEWAY_URL = gateway.url
    settings.LINLI_SMS_GATEWAY_TOKEN = "from-settings"
    settings.LINLI_SMS_GATEWAY_TIMEOUT = 3
    settings.LINLI_SMS_GATEWAY_RETRIES = 0
    backend = sms.get_backend()
    assert (backend.timeout, backend.retries) == (3.0, 0)
    assert sms.send_sms(to=PHONE, text="您好").accepted
    assert gateway.requests[0].headers["Authorization"] == "Bearer from-settings"


def test_without_a_token_no_authorization_header_is_sent(gateway):
    """An empty token sends no Authorization header."""
    _send(_backend(gateway, token=""))
    assert "Authorization" not in gateway.requests[0].headers


def test_a_5xx_is_retried_with_the_same_idempotency_key(gateway, sleeps):
    """500 then 200: the message is sent again and accepted; both attempts share one key."""
    gateway.answer(Answer(500, {"error": "busy"}))
    result = _send(_backend(gateway))
    assert result.accepted and result.provider_id == "gw-2"
    first, second = gateway.requests
    assert first.body == second.body
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert len(sleeps) == 1


def test_the_pause_between_attempts_doubles_with_jitter(gateway, sleeps):
    """After failed attempt n the backend pauses backoff·2^(n-1), plus up to half again."""
    gateway.answer(*[Answer(503, {"error": "down"})] * 3)
    result = _send(_backend(gateway, backoff=1.0, retries=3))
    assert result.accepted
    assert len(sleeps) == 3
    for pause, base in zip(sleeps, (1.0, 2.0, 4.0), strict=True):
        assert base <= pause <= base * 1.5


def test_retries_stop_after_the_configured_number(gateway, sleeps):
    """A gateway that keeps failing is tried 1 + retries times, then reported."""
    gateway.answer(*[Answer(503, {"error": "down"})] * 5)
    result = _send(_backend(gateway, retries=2))
    assert len(gateway.requests) == 3
    assert not result.accepted
    assert result.error == "HTTP 503: down"
    assert len(sleeps) == 2  # none after the last attempt


def test_a_4xx_is_final(gateway, sleeps):
    """400: one request, no retry, the gateway's reason in the error."""
    gateway.answer(Answer(400, {"error": "签名未报备 / signature not registered"}))
    result = _send(_backend(gateway, retries=3))
    assert len(gateway.requests) == 1
    assert not result.accepted
    assert result.error == "HTTP 400: 签名未报备 / signature not registered"
    assert sleeps == []


def test_a_429_is_retried_after_retry_after(gateway, sleeps):
    """429 Too Many Requests is retried, after the pause the gateway asks for."""
    gateway.answer(Answer(429, {"error": "slow down"}, headers={"Retry-After": "7"}))
    result = _send(_backend(gateway))
    assert result.accepted
    assert len(gateway.requests) == 2
    assert sleeps == [7.0]


def test_a_retry_after_longer_than_the_cap_is_cut_to_it(gateway, sleeps):
    """A Retry-After of an hour pauses MAX_BACKOFF_SECONDS, not an hour."""
    gateway.answer(Answer(503, {"error": "later"}, headers={"Retry-After": "3600"}))
    assert _send(_backend(gateway)).accepted
    assert sleeps == [http_backend.MAX_BACKOFF_SECONDS]


def test_a_slow_gateway_times_out(gateway, sleeps):
    """An answer slower than the timeout is a failure after each attempt times out (the
    gateway holds both answers until the client has given up: a client without a timeout
    would get them and count the message accepted)."""
    held = threading.Event()
    gateway.answer(Answer(hold=held), Answer(hold=held))
    try:
        result = _send(_backend(gateway, timeout=0.3, retries=1))
    finally:
        held.set()
    assert not result.accepted
    assert "timed out" in result.error
    assert len(gateway.requests) == 2
    assert len(sleeps) == 1


def test_an_unreachable_gateway_is_reported(monkeypatch):
    """Connection refused on every attempt gives a result, not an exception."""
    monkeypatch.setenv("no_proxy", "*")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = HttpGatewayBackend(url=f"http://127.0.0.1:{port}/", retries=1, backoff=0.01)
    result = _send(backend)
    assert not result.accepted
    assert result.error.startswith("gateway unreachable")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"id": "gw-9", "status": "rejected", "error": "黑名单号码"}, "黑名单号码"),
        ({"id": "gw-9", "status": "weird"}, "gateway status 'weird'"),
        ({"id": "gw-9"}, "gateway status 'missing'"),
        (b"<html>ok</html>", "gateway answered 2xx without a JSON object"),
        ([1, 2], "gateway answered 2xx without a JSON object"),
    ],
)
def test_a_2xx_that_does_not_accept_is_not_accepted(gateway, body, error):
    """Only the statuses accepted/queued/sent/delivered count as accepted; no retry."""
    gateway.answer(Answer(200, body))
    result = _send(_backend(gateway))
    assert not result.accepted
    assert result.error == error
    assert len(gateway.requests) == 1


def test_redirects_are_not_followed(gateway):
    """A redirect is final: the token is not carried elsewhere and the message not lost as GET."""
    gateway.answer(Answer(302, {}, headers={"Location": "http://127.0.0.1:9/elsewhere"}))
    result = _send(_backend(gateway))
    assert not result.accepted
    assert result.error.startswith("HTTP 302")
    assert len(gateway.requests) == 1


def test_a_batch_is_sent_concurrently_and_results_keep_their_order(gateway):
    """Twenty messages give twenty results in the order given, each with its own reference;
    `concurrency` requests are in flight together (the first five are answered only once all
    five have arrived) and never more."""
    messages = [
        sms.SmsMessage(to=f"139{i:08d}", text=f"第{i}条", reference=f"r{i}") for i in range(20)
    ]
    together = threading.Barrier(5)
    gateway.answer(*[Answer(barrier=together)] * 5)
    results = _backend(gateway, concurrency=5, retries=0).send_messages(messages)
    assert not together.broken, "the first five requests were not in flight together"
    assert gateway.most_in_flight == 5
    assert [r.reference for r in results] == [f"r{i}" for i in range(20)]
    assert all(r.accepted for r in results)
    assert sorted(r.body["reference"] for r in gateway.requests) == sorted(
        f"r{i}" for i in range(20)
    )


def test_logs_and_errors_hold_neither_the_text_nor_the_full_number(gateway, sleeps, caplog):
    """A gateway echoing the request cannot push the number or the text into logs or results."""
    echo = {"error": f"bad request for {PHONE}: {TEXT}"}
    gateway.answer(Answer(500, echo), Answer(400, echo))
    with caplog.at_level(logging.DEBUG, logger="linli.adapters.sms"):
        result = _send(_backend(gateway))
        _send(_backend(gateway))  # accepted, logged at INFO
    assert result.error == "HTTP 400: bad request for 138****5678: [text]"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "138****5678" in logged
    for secret in (PHONE, TEXT, "4C92.1mE7Rq", "s3cret-token"):
        assert secret not in logged
        assert secret not in repr(result)


@pytest.mark.parametrize("url", ["", "ftp://gateway/", "file:///etc/passwd", "gateway.local/sms"])
def test_a_missing_or_non_http_url_is_improperly_configured(settings, url):
    """The backend refuses to start without an http(s) URL."""
    settings.LINLI_SMS_GATEWAY_URL = ""
    with pytest.raises(ImproperlyConfigured, match="LINLI_SMS_GATEWAY_URL"):
        HttpGatewayBackend(url=url)
