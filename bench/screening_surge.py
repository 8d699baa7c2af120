"""Residents answer in a surge: H5 submissions in about a minute against gunicorn on PostgreSQL.

Run from the repository root (needs PostgreSQL at 127.0.0.1:5432, user postgres):

    .venv/bin/python bench/screening_surge.py [--submissions 10000] [--seconds 60]
        [--workers 4] [--threads 4] [--worker-connections 8] [--backlog 64]
        [--retry-fraction 0.05] [--seed 7] [--database linli_surge] [--keep-db]

A smoke check: `--submissions 500 --seconds 5` (well under a minute).

1. Drops and recreates the database --database (default linli_surge; the server reached
   through LINLI_BENCH_PG, default postgres://postgres@127.0.0.1:5432/postgres), migrates it
   and collects the static files as a production install does (LINLI_ENV=production, DEBUG
   off, fresh random keys, ./var replaced by a temporary directory), and seeds one community
   with the demo generator (linli.demo, the product's own bulk paths; it also lays down its
   own demo campaign, which this bench leaves alone) sized so that at least --submissions
   residents have a phone and a smartphone. A database someone is connected to is refused.
2. As the community lead, through linli.screening.services: creates the daily_symptoms
   questionnaire, an H5 campaign over the whole community, and launches it. Takes one link per
   H5-reachable target (linli.screening.h5.link_for, what the SMS carries).
3. Starts gunicorn on config.wsgi (gthread, --workers × --threads, bound to a free port on
   127.0.0.1), waits until every worker has booted, and warms it up with answers the
   questionnaire refuses (400, nothing stored). The default 4 × 4 is docs/deployment.md's: on
   2 CPUs, four processes keep both cores busy despite the GIL while each one's four threads
   overlap the requests' waits on PostgreSQL (a target's row lock, the commit's WAL flush);
   16 connections stay far below max_connections. --worker-connections and --backlog bound
   the queue in front of the threads, 8 and 64 as docs/deployment.md and `make serve` set
   them. With gunicorn's own defaults (1000 per worker, 2048) the queue holds more than the
   page's 20 s timeout of work, every request served is one its client has given up on, and
   a surge above capacity never recovers (try --worker-connections 1000 --backlog 2048).
4. Fires the submissions open-loop: send times are drawn uniformly over --seconds (Poisson
   arrivals at N/S per second), each sent at its time whatever is still in flight, so a slow
   server shows as queueing. A submission is one resident's POST
   /screening/h5/<token>/answer/ (the JSON contract of the page's script) carrying a complete
   answer set along a short path through the questionnaire (mostly healthy; some fever, some
   medication or help needs, which raise follow-up tasks); every answer set is checked against
   the questionnaire before the run. (The page itself saves one question per POST: 10,000
   such POSTs are about 1,700 residents' worth.) Each resident is a different phone, so each
   request is its own connection (Connection: close), sent as the TLS proxy in front passes
   it on (X-Forwarded-Proto: https). The client behaves as the page's script (h5.js): a 20 s
   timeout, and on a timeout, a dropped connection or a 5xx the same body with the same
   idempotency key again after 1, 2, 4, 8, 15, 15… s (the bench gives up after 300 s).
   --retry-fraction of the residents lose their first connection: the request is sent and the
   client hangs up without reading the answer, then resends 1 s later. Latency runs from the
   scheduled send time to the last byte of the final answer, resends included.
5. Prints submissions/s, p50/p95/p99/max latency, a timeline, final answers by status and
   the client's resends, CPU used (gunicorn, PostgreSQL, the load generator, the machine),
   then counts in the database: attempts stored against unique submissions sent, attempts per
   target and per key, targets reached and complete; a PASS/FAIL line for "stored == sent,
   nothing lost, nothing doubled", one for "every submission answered 200 is stored, none
   twice" (what must hold even when clients give up), and the CPU cost per stored submission.
   Exits 1 when a line fails or a submission never got its 200.
6. Stops gunicorn (SIGTERM, graceful) and drops the database unless --keep-db.

The load generator runs on the same machine as gunicorn and PostgreSQL and takes some of its
CPU (printed). Figures are printed, never asserted: the machine is shared and noisy.
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from fixtures import (
    HOST,
    ROOT,
    drop_database,
    fresh_database,
    launch_campaign,
    migrate_production,
    seed_demo_community,
)

# Demo residents per dwelling who have a phone and a smartphone (H5-reachable), measured on
# the generator (about 1.4, vacant dwellings included); the margin covers seed variation.
REACHABLE_PER_DWELLING = 1.2
# The page's script (linli/screening/static/screening/h5.js): its request timeout and the
# delays before it sends the same submission again; it never gives up, the bench does.
PAGE_TIMEOUT = 20.0
PAGE_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0)
GIVE_UP_AFTER = 300.0


# ---------------------------------------------------------------------------------------------
# Seeding: a community, an H5 campaign, one link per reachable target


@dataclass(frozen=True)
class Submission:
    target_id: int
    path: str  # /screening/h5/<token>/answer/
    key: str
    body: bytes
    at: float  # seconds after the start of the surge
    retry: bool  # the first connection drops after sending


@dataclass
class Seeded:
    campaign_id: int
    links: list[tuple[int, str]]  # (target id, answer path)


def seed(n: int, seed_value: int) -> Seeded:
    from django.db import connection
    from django.db.models import Exists, OuterRef
    from django.urls import reverse
    from django.utils import timezone

    from linli.registry.models import Person
    from linli.screening.channels import get_channel
    from linli.screening.h5 import link_for
    from linli.screening.models import CampaignTarget, ChannelCode, TargetStatus

    seed_demo_community(n, seed_value, REACHABLE_PER_DWELLING)

    started = time.perf_counter()
    campaign = launch_campaign(
        questionnaire="每日健康监测",
        campaign="每日健康监测（压力测试）",
        channels=[ChannelCode.H5],
        from_template="daily_symptoms",
        deadline=timezone.now() + timedelta(days=2),
    )
    reachable = Person.objects.filter(
        get_channel(ChannelCode.H5).reachable(), pk=OuterRef("person_id")
    )
    targets = CampaignTarget.objects.filter(campaign=campaign)
    h5_targets = targets.filter(Exists(reachable)).select_related("campaign").order_by("id")
    reachable_count = h5_targets.count()
    if reachable_count < n:
        raise SystemExit(
            f"only {reachable_count} residents can open an H5 link, {n} needed: "
            "raise REACHABLE_PER_DWELLING's margin"
        )
    links = []
    for target in h5_targets[:n]:
        token = re.search(r"/h5/([^/]+)/", link_for(target)).group(1)
        links.append((target.pk, reverse("screening:h5_answer", kwargs={"token": token})))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # a live database has statistics; fresh bulk loads do not
    print(
        f"  campaign {campaign.pk}: {campaign.target_count} targets, {reachable_count} reachable "
        f"by H5, {targets.filter(status=TargetStatus.NEEDS_DOOR_KNOCK).count()} on the "
        f"door-knock list; {len(links)} links ({time.perf_counter() - started:.1f} s)"
    )
    return Seeded(campaign_id=campaign.pk, links=links)


def answer_set(rng: random.Random) -> dict[str, object]:
    """One resident's complete answers to daily_symptoms along a short path (medication_needs
    false jumps to needs_help; needs_help false ends)."""
    answers: dict[str, object] = {
        "temperature": round(rng.uniform(36.0, 37.1), 1),
        "symptoms": ["none"],
        "contact_confirmed": False,
        "tested_today": rng.choice(["done", "done", "not_required", "not_yet"]),
        "medication_needs": False,
        "needs_help": False,
    }
    draw = rng.random()
    if draw < 0.04:  # fever or other symptoms: a door visit
        answers["temperature"] = round(rng.uniform(37.3, 39.2), 1)
        answers["symptoms"] = rng.choice([["fever"], ["fever", "cough"], ["fatigue"]])
    elif draw < 0.06:  # a dialysis patient's family cannot get to the hospital
        answers["medication_needs"] = True
        answers["medication_detail"] = "家中老人每周三次透析，需要社区协助安排就医车辆"
    elif draw < 0.08:
        answers["needs_help"] = True
        answers["help_detail"] = "独居老人，需要送菜上门"
    return answers


def plan(seeded: Seeded, args: argparse.Namespace) -> list[Submission]:
    """Builds every submission, checked against the campaign's questionnaire version."""
    from django.utils import timezone

    from linli.screening.models import Campaign
    from linli.screening.questionnaires.answers import validate_answers
    from linli.screening.questionnaires.routing import is_complete, route

    definition = Campaign.objects.get(pk=seeded.campaign_id).questionnaire_version.definition
    today = timezone.localdate()
    rng = random.Random(args.seed)
    times = sorted(rng.uniform(0, args.seconds) for _ in seeded.links)
    submissions = []
    path_lengths: Counter[int] = Counter()
    links = list(seeded.links)
    rng.shuffle(links)  # neighbours (targets in id order) do not answer one after the other
    for (target_id, path), at in zip(links, times, strict=True):
        answers = answer_set(rng)
        values, errors = validate_answers(definition, answers, today=today)
        if errors or not is_complete(definition, values, today=today):
            raise SystemExit(f"the bench's answers do not fit daily_symptoms: {errors}")
        path_lengths[len(route(definition, values, today=today))] += 1
        key = uuid.uuid4().hex  # what the page generates once per submission
        body = {
            "idempotency_key": key,
            "answers": answers,
            "by_proxy": False,
            "outcome": "answered",
        }
        submissions.append(
            Submission(
                target_id=target_id,
                path=path,
                key=key,
                body=json.dumps(body, ensure_ascii=False).encode(),
                at=at,
                retry=rng.random() < args.retry_fraction,
            )
        )
    lengths = ", ".join(f"{k} questions × {v}" for k, v in sorted(path_lengths.items()))
    print(f"  answer sets: {lengths}")
    return submissions


# ---------------------------------------------------------------------------------------------
# gunicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_gunicorn(
    env: dict[str, str], port: int, args: argparse.Namespace, log: Path
) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "config.wsgi:application",
        f"--bind={HOST}:{port}",
        "--worker-class=gthread",
        f"--workers={args.workers}",
        f"--threads={args.threads}",
        f"--worker-connections={args.worker_connections}",
        f"--backlog={args.backlog}",
        "--timeout=120",
        "--graceful-timeout=30",
        "--no-control-socket",  # other servers on this machine may hold the default one
        "--log-level=info",  # "Booting worker" lines tell when every worker is up
        f"--error-logfile={log}",
    ]
    print("  " + " ".join(command[1:]))
    # The app's own log lines (a refused answer is a "Bad Request" warning) go to the log too.
    with log.open("ab") as output:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_ready(server: subprocess.Popen, port: int, workers: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited ({server.returncode}):\n{tail(log)}")
        booted = log.read_text().count("Booting worker") if log.exists() else 0
        if booted >= workers:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                return
            except OSError:
                pass
        time.sleep(0.1)
    raise SystemExit(f"gunicorn did not start within 60 s:\n{tail(log)}")


def stop_gunicorn(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)  # graceful: workers finish their requests
    try:
        server.wait(timeout=40)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def tail(path: Path, lines: int = 30) -> str:
    """The log's last lines, without the warm-up's expected "Bad Request" warnings."""
    if not path.exists():
        return ""
    kept = [
        line
        for line in path.read_text(errors="replace").splitlines()
        if not line.startswith("Bad Request:")
    ]
    return "\n".join(kept[-lines:])


# ---------------------------------------------------------------------------------------------
# CPU


def _proc_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used, from /proc (None when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float:
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


class CpuMeter:
    """CPU seconds used by gunicorn (master and workers), by the PostgreSQL backends serving
    the database, and by the whole machine (every CPU's busy time), from /proc (Linux).

    Sampled every second: gunicorn's connections to PostgreSQL are recycled after
    CONN_MAX_AGE, and a backend that has exited can no longer be read, so each one counts up
    to its last sample."""

    def __init__(self, server_pid: int, database: str) -> None:
        self.server_pid = server_pid
        self.marker = f" {database} ".encode()
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.machine = (0.0, 0.0)
        self.available = Path("/proc/stat").exists()

    def _pids(self) -> list[tuple[str, int]]:
        pids = [("gunicorn", self.server_pid)]
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{self.server_pid}/task/{self.server_pid}/children")
            pids += [("gunicorn", int(pid)) for pid in children.read_text().split()]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    command = (entry / "cmdline").read_bytes()
                    if command.startswith(b"postgres: ") and self.marker in command:
                        pids.append(("postgres", int(entry.name)))
        return pids

    def sample(self, *, baseline: bool = False) -> None:
        if not self.available:
            return
        for key in self._pids():
            used = _proc_cpu(key[1])
            if used is None:
                continue
            # A process first seen after the start counts from zero: it began in the surge.
            self.first.setdefault(key, used if baseline else 0.0)
            self.last[key] = used
        busy = _machine_busy()
        self.machine = (busy, busy) if baseline else (self.machine[0], busy)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.sample()

    def used(self) -> dict[str, float]:
        totals = {"gunicorn": 0.0, "postgres": 0.0, "machine": self.machine[1] - self.machine[0]}
        for key, last in self.last.items():
            totals[key[0]] += last - self.first[key]
        return totals


# ---------------------------------------------------------------------------------------------
# The load: raw HTTP/1.1 over asyncio streams, one connection per resident


@dataclass
class Outcome:
    target_id: int
    label: str  # the final answer: "200", "404", "gave up after timeout", …
    seconds: float  # from the scheduled send time to the end of the final answer
    created: bool | None = None
    complete: bool | None = None
    dropped: bool = False  # one of the residents whose first connection dropped


@dataclass
class Surge:
    outcomes: list[Outcome] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    requests: int = 0
    dropped: int = 0  # requests sent and hung up on (the planned dropped connections)
    resent: Counter[str] = field(default_factory=Counter)  # client retries, by what failed
    resent_at: list[float] = field(default_factory=list)  # seconds after the start
    answered_at: list[float] = field(default_factory=list)  # a 200 came back
    lag: list[float] = field(default_factory=list)  # how late the client sent (its own delay)


def request_bytes(path: str, body: bytes, port: int) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {HOST}:{port}\r\n"
        "User-Agent: linli-bench-surge\r\n"
        "Content-Type: application/json\r\n"
        "Accept: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Forwarded-Proto: https\r\n"
        "Connection: close\r\n"
        "\r\n"
    )
    return head.encode() + body


async def exchange(port: int, payload: bytes, *, hang_up: bool = False) -> tuple[int, bytes]:
    """Sends one request on a new connection. Returns (status, body), or (0, b"") when the
    client hangs up right after sending (a dropped connection: the server still gets it)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(payload)
        await writer.drain()
        if hang_up:
            return 0, b""
        status_line = await reader.readline()
        parts = status_line.split()
        if len(parts) < 2:
            raise ConnectionResetError("no status line")
        status = int(parts[1])
        length = None
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        body = await (reader.readexactly(length) if length is not None else reader.read())
        return status, body
    finally:
        writer.close()


async def submit(sub: Submission, port: int, start: float, surge: Surge) -> None:
    """One resident's submission, sent as the page's script (h5.js) sends it: a timeout of
    PAGE_TIMEOUT, and on no answer, a dropped connection or a server error the same body with
    the same key again after PAGE_RETRY_DELAYS; a 200, 400, 404 or 410 is final."""
    loop = asyncio.get_running_loop()
    scheduled = start + sub.at
    await asyncio.sleep(max(0.0, scheduled - loop.time()))
    surge.lag.append(loop.time() - scheduled)
    payload = request_bytes(sub.path, sub.body, port)
    tries = 0
    if sub.retry:
        surge.requests += 1
        surge.dropped += 1
        with contextlib.suppress(OSError):  # TimeoutError is an OSError
            await asyncio.wait_for(exchange(port, payload, hang_up=True), PAGE_TIMEOUT)
        await asyncio.sleep(PAGE_RETRY_DELAYS[0])
        tries = 1
    while True:
        surge.requests += 1
        try:
            status, body = await asyncio.wait_for(exchange(port, payload), PAGE_TIMEOUT)
        except TimeoutError:
            failure = "timeout"
        except OSError as exc:
            failure = type(exc).__name__
        except asyncio.IncompleteReadError:
            failure = "IncompleteRead"
        else:
            failure = str(status) if status >= 500 else ""
        if not failure:
            break
        if loop.time() - scheduled > GIVE_UP_AFTER:
            surge.outcomes.append(
                Outcome(
                    sub.target_id,
                    f"gave up after {failure}",
                    loop.time() - scheduled,
                    dropped=sub.retry,
                )
            )
            surge.finished = max(surge.finished, loop.time())
            return
        surge.resent[failure] += 1
        surge.resent_at.append(loop.time() - start)
        await asyncio.sleep(PAGE_RETRY_DELAYS[min(tries, len(PAGE_RETRY_DELAYS) - 1)])
        tries += 1
    outcome = Outcome(sub.target_id, str(status), loop.time() - scheduled, dropped=sub.retry)
    if status == 200:
        surge.answered_at.append(loop.time() - start)
        try:
            data = json.loads(body)
        except ValueError:
            outcome.label = "200 not JSON"
        else:
            if data.get("saved") is not True:
                outcome.label = "200 not saved"
            outcome.created = data.get("created")
            outcome.complete = data.get("complete")
    surge.outcomes.append(outcome)
    surge.finished = max(surge.finished, loop.time())


async def warm_up(links: list[tuple[int, str]], port: int, concurrency: int) -> Counter[str]:
    """Sends rounds of answers the questionnaire refuses (a temperature in words: 400, nothing
    stored) so every worker thread has imported its code and opened its database connection,
    as on a server that has been up for a while. Returns the statuses."""
    statuses: Counter[str] = Counter()

    async def one(path: str) -> None:
        body = {
            "idempotency_key": uuid.uuid4().hex,
            "answers": {"temperature": "warm-up"},
            "by_proxy": False,
            "outcome": "answered",
        }
        payload = request_bytes(path, json.dumps(body).encode(), port)
        try:
            status, _ = await asyncio.wait_for(exchange(port, payload), 30)
            statuses[str(status)] += 1
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            statuses[type(exc).__name__] += 1

    for round_ in range(3):
        batch = links[round_ * concurrency : (round_ + 1) * concurrency] or links[:concurrency]
        await asyncio.gather(*(one(path) for _target, path in batch))
    return statuses


async def fire(submissions: list[Submission], port: int, meter: CpuMeter) -> Surge:
    loop = asyncio.get_running_loop()
    surge = Surge()
    surge.started = loop.time() + 0.5  # time to create the tasks before the first send
    meter.sample(baseline=True)
    sampling = asyncio.create_task(meter.run())
    await asyncio.gather(*(submit(s, port, surge.started, surge) for s in submissions))
    sampling.cancel()
    meter.sample()
    return surge


# ---------------------------------------------------------------------------------------------
# Figures


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


def print_timeline(surge: Surge, submissions: list[Submission], seconds: float) -> None:
    """Per time step: new submissions, 200s received and resends, so a knee shows."""
    elapsed = surge.finished - surge.started
    step = max(1, math.ceil(max(seconds / 6, elapsed / 15)))
    rows = math.ceil(elapsed / step) or 1

    def per_step(times: Iterable[float]) -> list[int]:
        counts = [0] * rows
        for t in times:
            counts[min(rows - 1, max(0, int(t // step)))] += 1
        return counts

    sent = per_step(s.at for s in submissions)
    answered = per_step(surge.answered_at)
    resent = per_step(surge.resent_at)
    print(f"  timeline ({step} s steps): new submissions / 200s received / resends")
    for row in range(rows):
        print(
            f"    {row * step:>4}–{(row + 1) * step:<4} s {sent[row]:>7} {answered[row]:>7} "
            f"{resent[row]:>7}"
        )


def report_load(surge: Surge, submissions: list[Submission], seconds: float) -> int:
    """Prints the client's side of the surge; returns how many submissions failed for good."""
    ok = [o for o in surge.outcomes if o.label == "200"]
    latencies = sorted(o.seconds * 1000 for o in ok)
    elapsed = surge.finished - surge.started
    n = len(submissions)
    resent = sum(surge.resent.values())
    print(
        f"sent: {n} submissions ({n / seconds:.1f}/s offered over {seconds:g} s) in "
        f"{surge.requests} requests: {surge.dropped} dropped connections "
        f"({surge.dropped / n:.1%} of residents) and {resent} resends, same key each time"
    )
    if resent:
        print(
            "  resent by the page's client after: "
            + ", ".join(f"{k} × {v}" for k, v in sorted(surge.resent.items()))
        )
    print(
        f"achieved: {len(ok) / elapsed:.1f} submissions/s "
        f"({len(ok)} answered 200 in {elapsed:.1f} s, first scheduled send to last answer)"
    )
    top = latencies[-1] if latencies else math.nan
    print(
        "latency from the scheduled send to the final answer, ms: "
        f"p50 {percentile(latencies, 0.50):.0f}  p95 {percentile(latencies, 0.95):.0f}  "
        f"p99 {percentile(latencies, 0.99):.0f}  max {top:.0f}"
    )
    dropped = sorted(o.seconds * 1000 for o in ok if o.dropped)
    if dropped:
        print(
            f"  residents whose connection dropped ({len(dropped)}; includes the page's "
            f"{PAGE_RETRY_DELAYS[0]:g} s wait): p50 {percentile(dropped, 0.5):.0f}  "
            f"max {dropped[-1]:.0f}"
        )
    lag = sorted(surge.lag)
    print(
        "  the load generator's own send lag (inside the figures): "
        f"p99 {percentile(lag, 0.99) * 1000:.0f} ms"
    )
    print_timeline(surge, submissions, seconds)
    by_label = Counter(o.label for o in surge.outcomes)
    print("final answers: " + ", ".join(f"{k} × {v}" for k, v in sorted(by_label.items())))
    created = Counter(o.created for o in ok)
    print(
        f"  200s: created {created[True]}, replay of a stored key (created=false) "
        f"{created[False]}; complete {sum(1 for o in ok if o.complete)}"
    )
    errors = sum(v for k, v in by_label.items() if k != "200")
    print(f"errors (submissions without a 200): {errors}")
    return errors


def report_database(
    campaign_id: int, submissions: list[Submission], surge: Surge
) -> tuple[bool, int]:
    """Counts what the database holds against what was sent; returns whether it matches and
    how many attempts were stored."""
    from django.db.models import Count, Max, Min, Sum

    from linli.screening.models import CampaignTarget, ContactAttempt, FollowUpTask

    attempts = ContactAttempt.objects.filter(campaign_id=campaign_id)
    stored = attempts.count()
    sent_keys = {s.key for s in submissions}
    stored_keys = set(attempts.values_list("idempotency_key", flat=True))
    doubled_keys = (
        attempts.values("idempotency_key").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    per_target = Counter(attempts.values_list("target_id", flat=True))
    sent_targets = {s.target_id for s in submissions}
    lost = sum(1 for t in sent_targets if per_target[t] == 0)
    doubled_targets = sum(1 for n in per_target.values() if n > 1)
    targets = CampaignTarget.objects.filter(pk__in=sent_targets)
    reached = targets.filter(reached_at__isnull=False).count()
    complete = targets.filter(complete=True).count()
    counted = targets.aggregate(n=Sum("attempt_count"))["n"] or 0
    tasks = FollowUpTask.objects.filter(campaign_id=campaign_id).count()
    span = attempts.aggregate(first=Min("created_at"), last=Max("created_at"))
    print(
        f"database: {stored} attempts stored for {len(submissions)} unique submissions sent; "
        f"keys as sent found {len(sent_keys & stored_keys)}"
    )
    if stored:
        seconds = (span["last"] - span["first"]).total_seconds()
        print(
            f"  stored from the first to the last in {seconds:.1f} s "
            f"({stored / max(seconds, 0.001):.1f} attempts/s on the server's side)"
        )
    print(
        f"  lost (target sent, nothing stored) {lost}; targets with more than one attempt "
        f"{doubled_targets}; keys stored more than once {doubled_keys}; "
        f"targets' attempt_count total {counted}"
    )
    sent = len(sent_targets)
    print(
        f"  targets reached {reached}/{sent}, complete {complete}/{sent}; "
        f"follow-up tasks raised {tasks}"
    )
    acknowledged = {o.target_id for o in surge.outcomes if o.label == "200"}
    lost_acknowledged = sum(1 for t in acknowledged if per_target[t] == 0)
    if lost:
        print(
            f"  of the {lost} not stored, {lost_acknowledged} had been answered 200 and "
            f"{lost - lost_acknowledged} were given up by their client (which knows it failed)"
        )
    doubled = doubled_targets or doubled_keys or counted != stored
    ok = stored == len(submissions) and lost == 0 and not doubled
    verdict = "PASS" if ok else "FAIL"
    print(f"{verdict}: stored {stored} == sent {len(submissions)}, nothing lost, nothing doubled")
    safe = lost_acknowledged == 0 and not doubled
    print(
        f"{'PASS' if safe else 'FAIL'}: every submission answered 200 is stored "
        f"({len(acknowledged) - lost_acknowledged}/{len(acknowledged)}), none twice"
    )
    return ok and safe, stored


# ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=60, help="spread of the arrivals")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (gthread)")
    parser.add_argument(
        "--worker-connections",
        type=int,
        default=8,
        help="connections a gunicorn worker accepts and queues for its threads (as deployed; "
        "gunicorn's own default is 1000)",
    )
    parser.add_argument(
        "--backlog", type=int, default=64, help="listen queue (as deployed; gunicorn's 2048)"
    )
    parser.add_argument("--retry-fraction", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", default="linli_surge", help="dropped and recreated")
    parser.add_argument("--keep-db", action="store_true", help="leave the database afterwards")
    args = parser.parse_args()
    if args.submissions < 1 or args.seconds <= 0 or not 0 <= args.retry_fraction <= 1:
        parser.error("need --submissions ≥ 1, --seconds > 0, 0 ≤ --retry-fraction ≤ 1")

    var_dir = Path(tempfile.mkdtemp(prefix="linli-surge-"))
    server = None
    created = False
    try:
        print(f"preparing database {args.database} (production settings, ./var in {var_dir})")
        started = time.perf_counter()
        database_url = fresh_database(args.database)
        created = True
        env = migrate_production(database_url, var_dir, started, collectstatic=True)
        from django.db import connections

        seeded = seed(args.submissions, args.seed)
        submissions = plan(seeded, args)
        connections.close_all()

        print(
            f"starting gunicorn: gthread, {args.workers} workers × {args.threads} threads "
            f"on {os.cpu_count()} CPUs"
        )
        port = free_port()
        log = var_dir / "gunicorn.log"
        server = start_gunicorn(env, port, args, log)
        wait_ready(server, port, args.workers, log)
        warm = asyncio.run(warm_up(seeded.links, port, args.workers * args.threads))
        print(
            "  warm-up (refused answers, nothing stored): "
            + ", ".join(f"{k} × {v}" for k, v in sorted(warm.items()))
        )

        print(
            f"surge: {len(submissions)} residents, one POST each with a complete answer set, "
            f"over {args.seconds:g} s; {args.retry_fraction:.0%} lose their first connection; "
            f"load average before it {os.getloadavg()[0]:.1f} (other work on the machine "
            "counts against the figures)"
        )
        usage = resource.getrusage(resource.RUSAGE_SELF)
        meter = CpuMeter(server.pid, args.database)
        surge = asyncio.run(fire(submissions, port, meter))
        after = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
        errors = report_load(surge, submissions, args.seconds)
        used = meter.used()
        wall = surge.finished - surge.started + 0.5
        print(
            f"CPU during the surge ({wall:.1f} s × {os.cpu_count()} CPUs = "
            f"{wall * (os.cpu_count() or 1):.0f} CPU-s): gunicorn {used['gunicorn']:.1f} s, "
            f"PostgreSQL backends {used['postgres']:.1f} s, load generator {client_cpu:.1f} s; "
            f"whole machine busy {used['machine']:.1f} s"
        )
        stopping = time.perf_counter()
        stop_gunicorn(server)
        print(
            f"gunicorn stopped in {time.perf_counter() - stopping:.1f} s (requests whose client "
            "had timed out and resent are finished or cut first)"
        )
        ok, stored = report_database(seeded.campaign_id, submissions, surge)
        if stored and used["gunicorn"]:
            app_ms = used["gunicorn"] / stored * 1000
            db_ms = used["postgres"] / stored * 1000
            cpus = os.cpu_count() or 1
            print(
                f"cost per stored submission (resends and replays included): {app_ms:.1f} ms "
                f"gunicorn + {db_ms:.1f} ms PostgreSQL CPU, so about "
                f"{cpus * 1000 / (app_ms + db_ms):.0f} submissions/s if the {cpus} CPUs served "
                "nothing else"
            )
        if errors or not ok:
            print(f"gunicorn log (last lines):\n{tail(log)}")
        connections.close_all()
    finally:
        if server is not None:
            stop_gunicorn(server)
        if args.keep_db and created:
            print(f"kept database {args.database}")
        elif created:
            drop_database(args.database)
        shutil.rmtree(var_dir, ignore_errors=True)
    sys.exit(0 if ok and not errors else 1)


if __name__ == "__main__":
    main()
