"""The FreeSWITCH carrier: calls placed and media played by FreeSWITCH, driven over its event
socket (inbound ESL, mod_event_socket). The production path at scale: FreeSWITCH carries the
RTP, transcoding and DTMF detection in C, Linli only says what to play and reads the keys.

Protocol, as used here (one TCP connection per carrier):
- the server greets with `Content-Type: auth/request`; we answer `auth <password>`;
- `event plain …` subscribes to the events we read (CHANNEL_ANSWER, CHANNEL_HANGUP_COMPLETE,
  CHANNEL_EXECUTE_COMPLETE, DTMF, BACKGROUND_JOB), dispatched by Unique-ID / Job-UUID;
- `bgapi originate {origination_uuid=…}sofia/gateway/<gw>/<number> &park()` places a call. The
  background form matters: `api originate` would hold the socket (every other call's
  commands included) until the callee answers or the ring time ends;
- `sendmsg <uuid>` with `execute-app-name: playback` plays a prompt file, `api uuid_kill` ends
  the call. Commands get their replies (command/reply, api/response) in the order sent.

Prompts are written once as 8 kHz μ-law WAV files, named by a hash of their audio, into a
directory FreeSWITCH reads (`prompt_dir` here, `fs_prompt_dir` as FreeSWITCH sees it).
"""

import asyncio
import contextlib
import hashlib
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from linli.adapters.media.g711 import ulaw_to_wav
from linli.adapters.telephony.base import (
    DIGITS,
    CallRequest,
    CallSession,
    CallSetup,
    Carrier,
    HungUp,
    Prompt,
)

logger = logging.getLogger("linli.adapters.telephony.freeswitch")

EVENTS = "CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE_COMPLETE DTMF BACKGROUND_JOB"

# Hangup causes (Q.850 names as FreeSWITCH gives them) → AttemptOutcome values, matching the
# SIP status table of base.outcome_for_status (486 → USER_BUSY, 404 → UNALLOCATED_NUMBER…).
CAUSE_OUTCOMES = {
    "USER_BUSY": "busy",
    "NO_ANSWER": "no_answer",
    "NO_USER_RESPONSE": "no_answer",
    "ORIGINATOR_CANCEL": "no_answer",
    "ALLOTTED_TIMEOUT": "no_answer",
    "UNALLOCATED_NUMBER": "wrong_number",
    "NO_ROUTE_DESTINATION": "wrong_number",
    "INVALID_NUMBER_FORMAT": "wrong_number",
    "CALL_REJECTED": "refused",
}


def outcome_for_cause(cause: str) -> str:
    return CAUSE_OUTCOMES.get(cause.strip().upper(), "failed")


class EslError(Exception):
    """The event socket refused us (bad password) or went away."""


@dataclass(frozen=True)
class FreeSwitchConfig:
    host: str = "127.0.0.1"
    port: int = 8021
    password: str = "ClueCon"  # noqa: S105 - FreeSWITCH's shipped default; set your own
    gateway: str = "carrier"  # the sofia gateway (trunk) to call through
    prompt_dir: str = "/var/lib/linli/prompts"  # where we write prompt files
    fs_prompt_dir: str = ""  # the same directory as FreeSWITCH sees it (defaults to prompt_dir)
    caller_id: str = ""
    max_calls: int = 200

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "FreeSwitchConfig":
        """Reads LINLI_FREESWITCH_* (docs/adapters-telephony.md)."""
        env = os.environ if environ is None else environ
        host, _, port = env.get("LINLI_FREESWITCH_ESL", "127.0.0.1:8021").rpartition(":")
        return cls(
            host=host or "127.0.0.1",
            port=int(port or 8021),
            password=env.get("LINLI_FREESWITCH_PASSWORD", "ClueCon"),
            gateway=env.get("LINLI_FREESWITCH_GATEWAY", "carrier"),
            prompt_dir=env.get("LINLI_FREESWITCH_PROMPT_DIR", "/var/lib/linli/prompts"),
            fs_prompt_dir=env.get("LINLI_FREESWITCH_FS_PROMPT_DIR", ""),
            caller_id=env.get("LINLI_FREESWITCH_CALLER_ID", ""),
            max_calls=int(env.get("LINLI_FREESWITCH_MAX_CALLS", "200")),
        )

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], *, password: str = "", max_calls: int | None = None
    ) -> "FreeSwitchConfig":
        """From a line's settings (no secret in there: the password comes from the
        environment variable the line names)."""
        return cls(
            host=str(settings.get("host", "127.0.0.1")),
            port=int(settings.get("port", 8021)),
            password=password or "ClueCon",
            gateway=str(settings.get("gateway", "carrier")),
            prompt_dir=str(settings.get("prompt_dir", "/var/lib/linli/prompts")),
            fs_prompt_dir=str(settings.get("fs_prompt_dir", "")),
            caller_id=str(settings.get("caller_id", "")),
            max_calls=max_calls or int(settings.get("max_calls", 200)),
        )


def parse_headers(text: str, *, decode: bool = False) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in text.split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            value = value.strip()
            headers[name.strip()] = unquote(value) if decode else value
    return headers


class EslConnection:
    """An inbound event-socket connection: commands with their replies in order, events
    handed to `on_event`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._replies: asyncio.Queue[tuple[dict[str, str], str]] = asyncio.Queue()
        self._lock = asyncio.Lock()  # one command in flight at a time keeps replies paired
        self._task: asyncio.Task | None = None
        self.on_event = lambda event: None
        self.closed = asyncio.Event()

    @classmethod
    async def connect(cls, host: str, port: int, password: str) -> "EslConnection":
        reader, writer = await asyncio.open_connection(host, port)
        conn = cls(reader, writer)
        headers, _ = await conn._read_message()
        if headers.get("Content-Type") != "auth/request":
            writer.close()
            raise EslError(f"unexpected greeting {headers.get('Content-Type')!r}")
        writer.write(f"auth {password}\n\n".encode())
        headers, _ = await conn._read_message()
        if not headers.get("Reply-Text", "").startswith("+OK"):
            writer.close()
            raise EslError("event socket authentication refused")
        conn._task = asyncio.create_task(conn._read_loop())
        return conn

    async def _read_message(self) -> tuple[dict[str, str], str]:
        lines: list[str] = []
        while True:
            line = await self.reader.readline()
            if not line:
                raise EslError("event socket closed")
            text = line.decode("utf-8", errors="replace").rstrip("\r\n")
            if not text:
                if lines:
                    break
                continue
            lines.append(text)
        headers = parse_headers("\n".join(lines))
        body = ""
        length = headers.get("Content-Length", "")
        if length.isdigit() and int(length) > 0:
            body = (await self.reader.readexactly(int(length))).decode("utf-8", errors="replace")
        return headers, body

    async def _read_loop(self) -> None:
        try:
            while True:
                headers, body = await self._read_message()
                kind = headers.get("Content-Type", "")
                if kind == "text/event-plain":
                    self.on_event(parse_event(body))
                elif kind in ("command/reply", "api/response"):
                    self._replies.put_nowait((headers, body))
                elif kind == "text/disconnect-notice":
                    break
        except (EslError, ConnectionError, asyncio.IncompleteReadError) as exc:
            logger.warning("event socket lost: %s", exc)
        finally:
            self.closed.set()
            self._replies.put_nowait(({"Reply-Text": "-ERR disconnected"}, "-ERR disconnected"))

    async def command(self, text: str) -> tuple[dict[str, str], str]:
        """Sends one command (may span lines, as sendmsg does) and returns its reply."""
        async with self._lock:
            if self.closed.is_set():
                raise EslError("event socket closed")
            self.writer.write(text.rstrip("\n").encode() + b"\n\n")
            await self.writer.drain()
            headers, body = await self._replies.get()
            if self.closed.is_set() and body == "-ERR disconnected":
                raise EslError("event socket closed")
            return headers, body

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


def parse_event(body: str) -> dict[str, str]:
    """A plain-format event: URL-encoded headers, then (BACKGROUND_JOB, for one) a blank line
    and a body of the event's own Content-Length, kept under `_body`."""
    head, _, rest = body.partition("\n\n")
    event = parse_headers(head, decode=True)
    length = event.get("Content-Length", "")
    if length.isdigit():
        event["_body"] = rest[: int(length)]
    return event


class _Channel:
    """What we know of one originated channel, fed by events."""

    def __init__(self) -> None:
        self.answered = asyncio.Event()
        self.ended = asyncio.Event()
        self.cause = ""
        self.sip_status: int | None = None
        self.digits: asyncio.Queue[str] = asyncio.Queue()
        self.executions: dict[str, asyncio.Future] = {}
        self.session: FreeSwitchCallSession | None = None


class FreeSwitchCarrier(Carrier):
    name = "freeswitch"

    def __init__(self, config: FreeSwitchConfig) -> None:
        self.config = config
        self._conn: EslConnection | None = None
        self._connecting = asyncio.Lock()
        self._channels: dict[str, _Channel] = {}
        self._jobs: dict[str, asyncio.Future] = {}
        self._lines = asyncio.Semaphore(config.max_calls)
        self._prompt_files: dict[str, str] = {}

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], *, password: str = "", max_calls: int | None = None
    ) -> "FreeSwitchCarrier":
        """The carrier of a line's settings (see FreeSwitchConfig.from_settings); the password
        and the line's concurrent calls are passed in by the line's owner."""
        return cls(FreeSwitchConfig.from_settings(settings, password=password, max_calls=max_calls))

    async def connection(self) -> EslConnection:
        async with self._connecting:
            if self._conn is None or self._conn.closed.is_set():
                c = self.config
                self._conn = await EslConnection.connect(c.host, c.port, c.password)
                self._conn.on_event = self._on_event
                headers, _ = await self._conn.command(f"event plain {EVENTS}")
                if not headers.get("Reply-Text", "").startswith("+OK"):
                    raise EslError("event subscription refused")
            return self._conn

    def _on_event(self, event: dict[str, str]) -> None:
        name = event.get("Event-Name", "")
        if name == "BACKGROUND_JOB":
            future = self._jobs.pop(event.get("Job-UUID", ""), None)
            if future is not None and not future.done():
                future.set_result(event.get("_body", ""))
            return
        channel = self._channels.get(event.get("Unique-ID", ""))
        if channel is None:
            return
        if name == "CHANNEL_ANSWER":
            channel.answered.set()
        elif name == "CHANNEL_HANGUP_COMPLETE":
            channel.cause = event.get("Hangup-Cause", "")
            status = event.get("variable_sip_term_status", "")
            channel.sip_status = int(status) if status.isdigit() else None
            channel.ended.set()
            for future in channel.executions.values():
                if not future.done():
                    future.set_result(None)
            self._channels.pop(event.get("Unique-ID", ""), None)
            self._lines.release()
        elif name == "DTMF":
            digit = event.get("DTMF-Digit", "")
            if digit in DIGITS and digit:
                channel.digits.put_nowait(digit)
        elif name == "CHANNEL_EXECUTE_COMPLETE":
            future = channel.executions.pop(event.get("Application-UUID", ""), None)
            if future is not None and not future.done():
                future.set_result(event.get("Application-Response", ""))

    async def place_call(self, request: CallRequest) -> CallSetup:
        try:
            conn = await self.connection()
        except (OSError, EslError) as exc:
            logger.warning("FreeSWITCH unreachable: %s", exc)
            return CallSetup(outcome="failed", detail={"reason": "event socket unreachable"})
        await self._lines.acquire()
        channel_uuid = str(uuid.uuid4())
        channel = _Channel()
        self._channels[channel_uuid] = channel
        ring = max(1, round(request.ring_timeout))
        variables = [
            f"origination_uuid={channel_uuid}",
            f"originate_timeout={ring}",
            "ignore_early_media=true",
            "playback_terminators=none",
        ]
        caller = request.caller_id or self.config.caller_id
        if caller:
            variables.append(f"origination_caller_id_number={caller}")
        job = asyncio.get_running_loop().create_future()
        # Our own Job-UUID, registered before sending: the job's result may be read before
        # the command's reply is handed back to us.
        job_uuid = str(uuid.uuid4())
        self._jobs[job_uuid] = job
        command = (
            f"bgapi originate {{{','.join(variables)}}}"
            f"sofia/gateway/{self.config.gateway}/{request.number} &park()\n"
            f"Job-UUID: {job_uuid}"
        )
        try:
            headers, _ = await conn.command(command)
            if not headers.get("Reply-Text", "").startswith("+OK"):
                raise EslError(headers.get("Reply-Text", "originate refused"))
            answered = asyncio.ensure_future(channel.answered.wait())
            done, _ = await asyncio.wait(
                {job, answered}, timeout=ring + 30, return_when=asyncio.FIRST_COMPLETED
            )
            answered.cancel()
        except (OSError, EslError) as exc:
            self._jobs.pop(job_uuid, None)
            self._forget(channel_uuid)
            return CallSetup(outcome="failed", detail={"call_id": channel_uuid, "reason": str(exc)})
        detail = {"call_id": channel_uuid}
        if channel.answered.is_set() or (job.done() and job.result().startswith("+OK")):
            session = FreeSwitchCallSession(self, channel_uuid, channel)
            channel.session = session
            detail["sip_status"] = 200
            return CallSetup(outcome="answered", session=session, sip_status=200, detail=detail)
        if not done:  # neither answer nor failure reported: give up on the channel
            await self._kill(channel_uuid)
            self._forget(channel_uuid)
            detail["reason"] = "no originate result"
            return CallSetup(outcome="failed", detail=detail)
        # "-ERR USER_BUSY": the cause; the hangup event, if it came, adds the SIP status.
        cause = job.result().strip().removeprefix("-ERR").strip() or channel.cause
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(channel.ended.wait(), 0.5)
        self._forget(channel_uuid)
        detail.update({"hangup_cause": cause, "sip_status": channel.sip_status})
        return CallSetup(
            outcome=outcome_for_cause(cause), sip_status=channel.sip_status, detail=detail
        )

    def _forget(self, channel_uuid: str) -> None:
        if self._channels.pop(channel_uuid, None) is not None:
            self._lines.release()

    async def _kill(self, channel_uuid: str) -> None:
        with contextlib.suppress(OSError, EslError):
            conn = await self.connection()
            await conn.command(f"api uuid_kill {channel_uuid}")

    def prompt_path(self, prompt: Prompt) -> str:
        """Writes the prompt's audio once (named by its hash) and returns the path FreeSWITCH
        opens."""
        key = hashlib.sha256(prompt.audio).hexdigest()[:24]
        path = self._prompt_files.get(key)
        if path is None:
            directory = Path(self.config.prompt_dir)
            target = directory / f"{key}.wav"
            if not target.exists():
                directory.mkdir(parents=True, exist_ok=True)
                partial = directory / f".{key}.{os.getpid()}.tmp"
                partial.write_bytes(ulaw_to_wav(prompt.audio))
                partial.replace(target)  # atomic: FreeSWITCH never reads half a file
            path = os.path.join(self.config.fs_prompt_dir or self.config.prompt_dir, target.name)
            self._prompt_files[key] = path
        return path

    async def close(self) -> None:
        for channel_uuid in list(self._channels):
            await self._kill(channel_uuid)
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


class FreeSwitchCallSession(CallSession):
    """An answered FreeSWITCH channel. Keys arrive as DTMF events (FreeSWITCH detects both
    RFC 4733 events and in-band tones, per the gateway's dtmf settings) into one queue, so a
    key pressed during a prompt is never lost."""

    def __init__(self, carrier: FreeSwitchCarrier, channel_uuid: str, channel: _Channel) -> None:
        self.carrier = carrier
        self.uuid = channel_uuid
        self.channel = channel
        self._pending = ""

    @property
    def hung_up(self) -> bool:
        return self.channel.ended.is_set()

    def _check(self) -> None:
        if self.hung_up:
            raise HungUp()

    async def _execute(self, app: str, arg: str) -> asyncio.Future:
        conn = await self.carrier.connection()
        app_uuid = str(uuid.uuid4())
        done = asyncio.get_running_loop().create_future()
        self.channel.executions[app_uuid] = done
        headers, _ = await conn.command(
            f"sendmsg {self.uuid}\n"
            "call-command: execute\n"
            f"execute-app-name: {app}\n"
            f"execute-app-arg: {arg}\n"
            f"Event-UUID: {app_uuid}"
        )
        if not headers.get("Reply-Text", "").startswith("+OK"):
            self.channel.executions.pop(app_uuid, None)
            self._check()
            raise HungUp()  # the channel is gone (-ERR invalid session id)
        return done

    async def play(self, prompt: Prompt, *, barge_in: bool = True) -> str:
        self._check()
        path = self.carrier.prompt_path(prompt)
        try:
            await self._execute("set", f"playback_terminators={'any' if barge_in else 'none'}")
            done = await self._execute("playback", path)
            if barge_in:
                # The first key stops the prompt (FreeSWITCH's playback terminators) and is
                # the answer; wait for whichever comes first.
                key = asyncio.ensure_future(self.channel.digits.get())
                ended = asyncio.ensure_future(self.channel.ended.wait())
                await asyncio.wait({done, key, ended}, return_when=asyncio.FIRST_COMPLETED)
                ended.cancel()
                if key.done():
                    self._pending += key.result()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(done), 2.0)
                else:
                    key.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await key
            else:
                await done
        except (OSError, EslError) as exc:
            raise HungUp() from exc
        self._check()
        digits = self._pending + self._drain()
        self._pending = ""
        return digits if barge_in else self._keep(digits)

    def _drain(self) -> str:
        digits = ""
        while not self.channel.digits.empty():
            digits += self.channel.digits.get_nowait()
        return digits

    def _keep(self, digits: str) -> str:
        self._pending = digits  # without barge-in, keys pressed are left for collect()
        return ""

    async def collect(
        self,
        *,
        max_digits: int,
        first_timeout: float,
        inter_digit_timeout: float = 3.0,
        terminators: str = "#",
    ) -> str:
        self._check()
        buffered, self._pending = self._pending, ""
        digits = ""
        for digit in buffered:
            if digit in terminators:
                self._pending = buffered[len(digits) + 1 :]
                return digits
            digits += digit
            if len(digits) >= max_digits:
                self._pending = buffered[len(digits) :]
                return digits
        while len(digits) < max_digits:
            timeout = inter_digit_timeout if digits else first_timeout
            key = asyncio.ensure_future(self.channel.digits.get())
            ended = asyncio.ensure_future(self.channel.ended.wait())
            await asyncio.wait({key, ended}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            ended.cancel()
            if not key.done():
                key.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await key
                self._check()
                return digits
            digit = key.result()
            if digit in terminators:
                return digits
            digits += digit
        return digits

    async def hangup(self) -> None:
        if self.hung_up:
            return
        await self.carrier._kill(self.uuid)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.channel.ended.wait(), 5.0)
        if not self.channel.ended.is_set():  # no hangup event: consider the channel gone
            self.channel.ended.set()
            self.carrier._forget(self.uuid)
