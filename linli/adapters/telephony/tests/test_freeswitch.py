"""FreeSwitchCarrier against a fake FreeSWITCH event socket on loopback: the greeting and auth,
event subscription, bgapi originate with our Job-UUID, plain-format events (URL-encoded
headers, BACKGROUND_JOB bodies), sendmsg playback with Application-UUID, DTMF events and
uuid_kill. FreeSWITCH itself is not installable here; this proves the protocol handling."""

import asyncio
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from linli.adapters import telephony
from linli.adapters.telephony.base import CallRequest, HungUp, Prompt
from linli.adapters.telephony.freeswitch import (
    FreeSwitchCarrier,
    FreeSwitchConfig,
    outcome_for_cause,
    parse_event,
)

PASSWORD = "Secret-Pw"

# number → how the fake callee behaves
PERSONAS = {
    "13800000001": {"answer": True, "keys": "1"},
    "13800000002": {"cause": "USER_BUSY", "status": "486"},
    "13800000003": {"cause": "NO_ANSWER", "status": "480", "delay": 0.2},
    "13800000004": {"cause": "UNALLOCATED_NUMBER", "status": "404"},
    "13800000005": {"answer": True, "hangs_up_on_play": True},
    "13800000006": {"cause": "NORMAL_TEMPORARY_FAILURE", "status": "503"},
    "13800000007": {"answer": True, "keys": "12#"},
}


def event(name: str, **headers: str) -> bytes:
    body_text = headers.pop("_body", None)
    lines = [f"Event-Name: {name}", f"Event-Date-Local: {quote('2025-01-01 08:00:00')}"]
    lines += [
        f"{k.replace('_', '-') if k[0].isupper() else k}: {quote(v)}" for k, v in headers.items()
    ]
    if body_text is not None:
        lines.append(f"Content-Length: {len(body_text.encode())}")
        body = "\n".join(lines) + "\n\n" + body_text
    else:
        body = "\n".join(lines) + "\n\n"
    data = body.encode()
    return f"Content-Length: {len(data)}\nContent-Type: text/event-plain\n\n".encode() + data


def reply(text: str, **headers: str) -> bytes:
    extra = "".join(f"{k.replace('_', '-')}: {v}\n" for k, v in headers.items())
    return f"Content-Type: command/reply\nReply-Text: {text}\n{extra}\n".encode()


def api_response(text: str) -> bytes:
    return f"Content-Type: api/response\nContent-Length: {len(text)}\n\n{text}".encode()


class FakeFreeSwitch:
    def __init__(self) -> None:
        self.commands: list[str] = []
        self.plays: list[str] = []
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self.tasks: set[asyncio.Future] = set()  # keeps scheduled sends alive

    async def start(self) -> "FakeFreeSwitch":
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self.server.close()

    async def read_command(self, reader: asyncio.StreamReader) -> str | None:
        lines = []
        while True:
            line = await reader.readline()
            if not line:
                return None
            text = line.decode().rstrip("\n")
            if not text:
                if lines:
                    return "\n".join(lines)
                continue
            lines.append(text)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Content-Type: auth/request\n\n")
        channels: dict[str, dict] = {}

        def send(data: bytes) -> None:
            if not writer.is_closing():
                writer.write(data)

        async def later(delay: float, *chunks: bytes) -> None:
            await asyncio.sleep(delay)
            for chunk in chunks:
                send(chunk)

        while True:
            command = await self.read_command(reader)
            if command is None:
                break
            self.commands.append(command)
            first, *rest = command.split("\n")
            if first.startswith("auth "):
                if first[5:] == PASSWORD:
                    send(reply("+OK accepted"))
                else:
                    send(reply("-ERR invalid"))
                    writer.close()
                    return
            elif first.startswith("event plain"):
                send(reply("+OK event listener enabled plain"))
            elif first.startswith("bgapi originate"):
                job = dict(line.split(": ", 1) for line in rest)["Job-UUID"]
                uuid = re.search(r"origination_uuid=([0-9a-f-]+)", first).group(1)
                number = re.search(r"sofia/gateway/[^/]+/(\d+) ", first).group(1)
                persona = PERSONAS[number]
                channels[uuid] = persona
                send(reply(f"+OK Job-UUID: {job}", Job_UUID=job))
                # the event may arrive before the reply is read by the client: send at once
                if persona.get("answer"):
                    send(event("CHANNEL_ANSWER", Unique_ID=uuid))
                    send(event("BACKGROUND_JOB", Job_UUID=job, _body=f"+OK {uuid}\n"))
                else:
                    cause, status = persona["cause"], persona["status"]
                    self.tasks.add(
                        asyncio.ensure_future(
                            later(
                                persona.get("delay", 0),
                                event(
                                    "CHANNEL_HANGUP_COMPLETE",
                                    Unique_ID=uuid,
                                    Hangup_Cause=cause,
                                    variable_sip_term_status=status,
                                ),
                                event("BACKGROUND_JOB", Job_UUID=job, _body=f"-ERR {cause}\n"),
                            )
                        )
                    )
            elif first.startswith("sendmsg "):
                uuid = first.split(" ", 1)[1]
                headers = dict(line.split(": ", 1) for line in rest)
                persona = channels.get(uuid)
                if persona is None or persona.get("gone"):
                    send(reply("-ERR invalid session id"))
                    continue
                send(reply("+OK"))
                app, arg = headers["execute-app-name"], headers["execute-app-arg"]
                done = event(
                    "CHANNEL_EXECUTE_COMPLETE",
                    Unique_ID=uuid,
                    Application=app,
                    Application_UUID=headers["Event-UUID"],
                    Application_Response="FILE PLAYED",
                )
                if app != "playback":
                    send(done)
                    continue
                self.plays.append(arg)
                if persona.get("hangs_up_on_play"):
                    persona["gone"] = True
                    chunks = [
                        event(
                            "CHANNEL_HANGUP_COMPLETE",
                            Unique_ID=uuid,
                            Hangup_Cause="NORMAL_CLEARING",
                        )
                    ]
                else:
                    keys, persona["keys"] = persona.get("keys", ""), ""
                    chunks = [event("DTMF", Unique_ID=uuid, DTMF_Digit=k) for k in keys] + [done]
                self.tasks.add(asyncio.ensure_future(later(0.05, *chunks)))
            elif first.startswith("api uuid_kill "):
                uuid = first.split(" ")[2]
                send(api_response("+OK\n"))
                if uuid in channels and not channels[uuid].get("gone"):
                    channels[uuid]["gone"] = True
                    send(
                        event(
                            "CHANNEL_HANGUP_COMPLETE",
                            Unique_ID=uuid,
                            Hangup_Cause="NORMAL_CLEARING",
                            variable_sip_term_status="200",
                        )
                    )
            else:
                send(reply("-ERR command not found"))
        writer.close()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def carrier_for(
    fake: FakeFreeSwitch, tmp_path: Path, password: str = PASSWORD
) -> FreeSwitchCarrier:
    return FreeSwitchCarrier(
        FreeSwitchConfig(
            host="127.0.0.1",
            port=fake.port,
            password=password,
            gateway="trunk1",
            prompt_dir=str(tmp_path / "prompts"),
            fs_prompt_dir="/usr/share/freeswitch/sounds/linli",
            caller_id="02988880000",
        )
    )


PROMPT = Prompt(name="q:fever", text="是否发热？是请按1，否请按2", audio=bytes([0xFF]) * 1600)


def test_answered_call_plays_reads_keys_and_hangs_up(tmp_path):
    async def scenario():
        fake = await FakeFreeSwitch().start()
        carrier = carrier_for(fake, tmp_path)
        setup = await carrier.place_call(CallRequest(call_id="a1", number="13800000001"))
        assert setup.outcome == "answered"
        assert setup.sip_status == 200
        assert "13800000001" not in repr(setup.detail)
        session = setup.session
        pressed = await session.play(PROMPT, barge_in=True)
        assert pressed == "1"
        assert await session.collect(max_digits=1, first_timeout=0.2) == ""
        await session.hangup()
        assert session.hung_up
        with pytest.raises(HungUp):
            await session.play(PROMPT)
        await carrier.close()
        await fake.stop()
        return fake, setup

    fake, setup = run(scenario())
    assert fake.commands[0] == f"auth {PASSWORD}"
    assert fake.commands[1].startswith("event plain ")
    assert "CHANNEL_HANGUP_COMPLETE" in fake.commands[1]
    originate = next(c for c in fake.commands if c.startswith("bgapi originate"))
    assert f"origination_uuid={setup.detail['call_id']}" in originate
    assert "sofia/gateway/trunk1/13800000001 &park()" in originate
    assert "origination_caller_id_number=02988880000" in originate
    assert "\nJob-UUID: " in originate
    assert any(c == f"api uuid_kill {setup.detail['call_id']}" for c in fake.commands)
    # the prompt was written once, as FreeSWITCH sees the shared directory
    written = list((tmp_path / "prompts").glob("*.wav"))
    assert len(written) == 1
    assert written[0].read_bytes()[:4] == b"RIFF"
    assert fake.plays == [f"/usr/share/freeswitch/sounds/linli/{written[0].name}"]
    playback = next(c for c in fake.commands if "execute-app-name: playback" in c)
    assert playback.startswith(f"sendmsg {setup.detail['call_id']}\ncall-command: execute")
    assert any("playback_terminators=any" in c for c in fake.commands)


def test_keys_without_barge_in_are_left_for_collect(tmp_path):
    async def scenario():
        fake = await FakeFreeSwitch().start()
        carrier = carrier_for(fake, tmp_path)
        setup = await carrier.place_call(CallRequest(call_id="a7", number="13800000007"))
        session = setup.session
        assert await session.play(PROMPT, barge_in=False) == ""
        digits = await session.collect(max_digits=4, first_timeout=1.0, terminators="#")
        await session.hangup()
        await carrier.close()
        await fake.stop()
        return fake, digits

    fake, digits = run(scenario())
    assert digits == "12"
    assert any("playback_terminators=none" in c for c in fake.commands)


@pytest.mark.parametrize(
    ("number", "outcome", "status", "cause"),
    [
        ("13800000002", "busy", 486, "USER_BUSY"),
        ("13800000003", "no_answer", 480, "NO_ANSWER"),
        ("13800000004", "wrong_number", 404, "UNALLOCATED_NUMBER"),
        ("13800000006", "failed", 503, "NORMAL_TEMPORARY_FAILURE"),
    ],
)
def test_unanswered_calls_are_classified_by_hangup_cause(tmp_path, number, outcome, status, cause):
    async def scenario():
        fake = await FakeFreeSwitch().start()
        carrier = carrier_for(fake, tmp_path)
        setup = await carrier.place_call(CallRequest(call_id="b", number=number, ring_timeout=5))
        assert carrier._lines._value == carrier.config.max_calls  # the line is free again
        await carrier.close()
        await fake.stop()
        return setup

    setup = run(scenario())
    assert setup.outcome == outcome
    assert setup.session is None
    assert setup.sip_status == status
    assert setup.detail["hangup_cause"] == cause
    assert number not in repr(setup.detail)


def test_far_end_hanging_up_during_a_prompt_raises_hung_up(tmp_path):
    async def scenario():
        fake = await FakeFreeSwitch().start()
        carrier = carrier_for(fake, tmp_path)
        setup = await carrier.place_call(CallRequest(call_id="c", number="13800000005"))
        with pytest.raises(HungUp):
            await setup.session.play(PROMPT)
        assert setup.session.hung_up
        with pytest.raises(HungUp):
            await setup.session.collect(max_digits=1, first_timeout=1)
        await setup.session.hangup()  # idempotent, no error
        await carrier.close()
        await fake.stop()

    run(scenario())


def test_wrong_password_is_a_failed_call_not_an_exception(tmp_path):
    async def scenario():
        fake = await FakeFreeSwitch().start()
        carrier = carrier_for(fake, tmp_path, password="wrong")
        setup = await carrier.place_call(CallRequest(call_id="d", number="13800000001"))
        await carrier.close()
        await fake.stop()
        return setup

    setup = run(scenario())
    assert setup.outcome == "failed"
    assert setup.session is None


def test_plain_events_and_cause_table():
    body = (
        "Event-Name: BACKGROUND_JOB\nJob-UUID: j1\nCaller-Caller-ID-Name: %E5%BC%A0\n"
        "Content-Length: 14\n\n-ERR USER_BUSY\n"
    )
    parsed = parse_event(body)
    assert parsed["Event-Name"] == "BACKGROUND_JOB"
    assert parsed["Caller-Caller-ID-Name"] == "张"
    assert parsed["_body"] == "-ERR USER_BUSY"
    assert outcome_for_cause("USER_BUSY") == "busy"
    assert outcome_for_cause("ORIGINATOR_CANCEL") == "no_answer"
    assert outcome_for_cause("NO_USER_RESPONSE") == "no_answer"
    assert outcome_for_cause("UNALLOCATED_NUMBER") == "wrong_number"
    assert outcome_for_cause("NORMAL_TEMPORARY_FAILURE") == "failed"


def test_config_from_env():
    config = FreeSwitchConfig.from_env(
        {
            "LINLI_FREESWITCH_ESL": "10.0.0.5:8022",
            "LINLI_FREESWITCH_PASSWORD": "pw",
            "LINLI_FREESWITCH_GATEWAY": "unicom",
            "LINLI_FREESWITCH_PROMPT_DIR": "/srv/prompts",
        }
    )
    assert (config.host, config.port, config.password, config.gateway) == (
        "10.0.0.5",
        8022,
        "pw",
        "unicom",
    )
    assert config.prompt_dir == "/srv/prompts"


def test_carrier_from_a_dialer_lines_settings():
    """get_carrier builds a FreeSWITCH carrier from a line's settings, with the password and
    the number of concurrent calls its owner passes in."""
    settings = {"host": "10.0.0.9", "port": 8021, "gateway": "unicom", "password_env": "X"}
    carrier = telephony.get_carrier("freeswitch", settings, password="esl-pw", max_calls=120)
    assert isinstance(carrier, FreeSwitchCarrier)
    c = carrier.config
    assert (c.host, c.port, c.gateway, c.password, c.max_calls) == (
        "10.0.0.9",
        8021,
        "unicom",
        "esl-pw",
        120,
    )


def test_an_unknown_carrier_kind_is_refused():
    with pytest.raises(ValueError, match="unknown carrier"):
        telephony.get_carrier("pigeon", {})
