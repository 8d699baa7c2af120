"""Verifies a production configuration end to end: one line per check, OK / WARN / UNKNOWN /
FAIL with the fix, and a non-zero exit when anything fails.

    linli check-deploy

Run it on the server, as the service user, with the services' environment
(`set -a; . /etc/linli/env; set +a`), after `migrate` and `collectstatic` and once the units of
docs/deployment.md are started. It reads; it writes nothing.

The apps' models are looked up by label (apps.get_model), not imported: core sits under every
app (the layers of pyproject.toml), and this command only reads a few of their timestamps.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography.exceptions import InvalidTag
from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core import checks
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from linli.core import identifiers
from linli.core.errors import Message, both_languages

OK, WARN, UNKNOWN, FAIL = "OK", "WARN", "UNKNOWN", "FAIL"

# A loop that runs every 30 or 60 s and has not run for five minutes is down, not slow.
LOOP_STALE = timedelta(minutes=5)
# A task queued this long ago and still waiting means no worker is taking tasks.
QUEUE_STALE = timedelta(minutes=5)
# A task finished this recently shows a worker alive (django-tasks-db keeps no heartbeat).
WORKER_RECENT = timedelta(minutes=15)

QUIET_SMS_BACKENDS = (
    "linli.adapters.sms.console.ConsoleBackend",
    "linli.adapters.sms.file.FileBackend",
    "linli.adapters.sms.locmem.LocmemBackend",
)
DB_TASKS_BACKEND = "django_tasks_db.DatabaseBackend"
CACHE_TABLE = "linli_cache"

SYSTEM_CHECKS = _("System checks (check --deploy)")
DATABASE = _("Database reachable")
MIGRATIONS = _("Migrations applied")
CACHE = _("Cache table")
KEYS = _("Data and hash keys")
STATIC = _("Static files collected")
SMS = _("SMS backend")
TTS = _("Speech engine")
PUBLIC_URL = _("Public URL")
WORKER = _("Task worker")
SCREENING_LOOP = _("Screening escalation loop")
WORKORDER_LOOP = _("Work order escalation loop")

FIX = pgettext_lazy("check-deploy", "Fix")
FIX_CHECKS = _("Correct the settings named above in /etc/linli/env, then restart the services.")
FIX_DATABASE = _("Check DATABASE_URL and that PostgreSQL is running and accepts the user.")
FIX_MIGRATE = _("Run: linli migrate")
FIX_CACHE = _("Run: linli migrate (it creates the cache table), or linli createcachetable")
FIX_KEYS = _("Set LINLI_DATA_KEY and LINLI_HASH_KEY in /etc/linli/env (from the key store).")
FIX_KEY_MISMATCH = _(
    "Restore the keys the identifiers were sealed with from the key store; never make new ones."
)
FIX_STATIC = _("Run: linli collectstatic --noinput")
FIX_SMS = _("Set LINLI_SMS_BACKEND and the gateway's address and token (docs/adapters-sms.md).")
FIX_TTS = _("Set LINLI_VOICE_TTS to espeak and install espeak-ng.")
FIX_PUBLIC_URL = _("Set LINLI_PUBLIC_URL to the address residents' phones open links on.")
FIX_WORKER = _("Start the worker: systemctl start linli-worker")
FIX_SCREENING_LOOP = _("Start the loop: systemctl start linli-escalate-screening")
FIX_WORKORDER_LOOP = _("Start the loop: systemctl start linli-escalate")

SKIPPED_NO_DATABASE = _("not checked: the database cannot be reached")
NOT_MIGRATED_SHORT = _("not checked: migrations are not applied")
NOT_MIGRATED = _("%(count)s migration(s) not applied")
NO_CACHE_TABLE = _("table %(table)s missing")
KEY_MISSING = _("%(name)s is not set")
KEY_EMBEDDED = _("keys generated in the var folder (embedded use)")
DATA_KEY_WRONG = _("the data key cannot open a stored identifier")
HASH_KEY_WRONG = _("the hash key does not give a stored identifier's hash")
KEYS_OPEN = _("a stored identifier opens and hashes as stored")
NO_IDENTIFIER = _("no identifier stored yet to try them on")
NO_MANIFEST = _("%(path)s missing")
SMS_QUIET = _("%(backend)s sends no message to a phone")
SMS_NO_GATEWAY = _("LINLI_SMS_GATEWAY_URL is not set")
NO_PUBLIC_URL = _("LINLI_PUBLIC_URL is not set")
TASKS_INLINE = _("tasks run in the process that queues them (%(backend)s)")
TASKS_WAITING = _("%(count)s task(s) waiting more than %(minutes)s minutes")
TASK_FINISHED = _("a task finished %(minutes)s minute(s) ago")
WORKER_UNKNOWN = _(
    "unknown: no task finished in the last %(minutes)s minutes, and the worker records no heartbeat"
)
LOOP_BEHIND = _("%(count)s item(s) not escalated for more than %(minutes)s minutes")
LOOP_RAN = _("last ran %(minutes)s minute(s) ago")
SCREENING_UNKNOWN = _("unknown: no running campaign to show the loop's last run")
WORKORDER_UNKNOWN = _("unknown: nothing due, and the sweep leaves no trace when nothing is due")
FAILED = _("%(count)s check(s) failed")


@dataclass(frozen=True)
class Result:
    status: str
    label: Message
    detail: str = ""
    fix: Message | None = None

    def line(self) -> str:
        text = f"{self.status:<7} {both_languages(self.label)}"
        if self.detail:
            text += f": {self.detail}"
        if self.fix is not None and self.status != OK:
            text += f" | {both_languages(FIX)}: {both_languages(self.fix)}"
        return text


def _production() -> bool:
    return settings.LINLI_ENV == "production"


def _minutes(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() // 60))


# The speech engine's checks (registered by linli.adapters, which core may not import) are
# reported on their own line, not among the system checks.
TTS_CHECK_IDS = ("linli.E052", "linli.W052")


def system_messages() -> list[checks.CheckMessage]:
    """Returns what `check --deploy` would report (silenced checks left out)."""
    return [
        message
        for message in checks.run_checks(include_deployment_checks=True)
        if not message.is_silenced()
    ]


def check_system(found: list[checks.CheckMessage]) -> list[Result]:
    found = [m for m in found if m.id not in TTS_CHECK_IDS]
    errors = [m for m in found if m.level >= checks.ERROR]
    warnings = [m for m in found if checks.WARNING <= m.level < checks.ERROR]
    if errors:
        detail = "; ".join([f"{m.id} {m.msg}" for m in errors] + [str(m.id) for m in warnings])
        return [Result(FAIL, SYSTEM_CHECKS, detail, FIX_CHECKS)]
    if warnings:
        detail = "; ".join(str(m.id) for m in warnings)
        return [Result(WARN, SYSTEM_CHECKS, detail, FIX_CHECKS)]
    return [Result(OK, SYSTEM_CHECKS)]


def check_database() -> list[Result]:
    try:
        connection.ensure_connection()
    except DatabaseError as exc:
        return [
            Result(
                FAIL, DATABASE, str(exc).strip().splitlines()[0] if str(exc) else "", FIX_DATABASE
            )
        ]
    return [Result(OK, DATABASE, connection.vendor)]


def check_migrations() -> list[Result]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        return [
            Result(
                FAIL, MIGRATIONS, both_languages(NOT_MIGRATED, {"count": len(plan)}), FIX_MIGRATE
            )
        ]
    return [Result(OK, MIGRATIONS)]


def check_cache_table() -> list[Result]:
    if CACHE_TABLE not in connection.introspection.table_names():
        return [
            Result(FAIL, CACHE, both_languages(NO_CACHE_TABLE, {"table": CACHE_TABLE}), FIX_CACHE)
        ]
    return [Result(OK, CACHE, CACHE_TABLE)]


def check_keys() -> list[Result]:
    for name in ("LINLI_DATA_KEY", "LINLI_HASH_KEY"):
        missing = not getattr(settings, name, "") or (_production() and not os.environ.get(name))
        if missing:
            return [Result(FAIL, KEYS, both_languages(KEY_MISSING, {"name": name}), FIX_KEYS)]
    person_model = apps.get_model("registry", "Person")
    for kind, field in (("id", "id_number"), ("phone", "phone")):
        stored = (
            person_model.objects.exclude(**{f"{field}_encrypted": ""})
            .values_list(f"{field}_encrypted", f"{field}_hash")
            .first()
        )
        if stored is None:
            continue
        sealed, hashed = stored
        try:
            value = identifiers.decrypt(sealed)
        except (InvalidTag, ValueError):  # a wrong key, or a value it cannot even unwrap
            return [Result(FAIL, KEYS, both_languages(DATA_KEY_WRONG), FIX_KEY_MISMATCH)]
        if hashed and identifiers.keyed_hash(kind, value) != hashed:
            return [Result(FAIL, KEYS, both_languages(HASH_KEY_WRONG), FIX_KEY_MISMATCH)]
        return [Result(OK, KEYS, both_languages(KEYS_OPEN))]
    if _production() or settings.LINLI_ENV == "test":
        return [Result(OK, KEYS, both_languages(NO_IDENTIFIER))]
    return [Result(OK, KEYS, both_languages(KEY_EMBEDDED))]


def check_static() -> list[Result]:
    manifest = Path(settings.STATIC_ROOT) / getattr(
        staticfiles_storage, "manifest_name", "staticfiles.json"
    )
    if not manifest.is_file():
        return [Result(FAIL, STATIC, both_languages(NO_MANIFEST, {"path": manifest}), FIX_STATIC)]
    return [Result(OK, STATIC, str(manifest))]


def check_sms() -> list[Result]:
    backend = settings.LINLI_SMS_BACKEND
    if backend in QUIET_SMS_BACKENDS:
        status = WARN if _production() else OK
        return [Result(status, SMS, both_languages(SMS_QUIET, {"backend": backend}), FIX_SMS)]
    if backend.startswith("linli.adapters.sms.http.") and not settings.LINLI_SMS_GATEWAY_URL:
        return [Result(FAIL, SMS, both_languages(SMS_NO_GATEWAY), FIX_SMS)]
    return [Result(OK, SMS, backend)]


def check_tts(found: list[checks.CheckMessage]) -> list[Result]:
    found = [m for m in found if m.id in TTS_CHECK_IDS]
    errors = [m for m in found if m.level >= checks.ERROR]
    if errors:
        return [Result(FAIL, TTS, "; ".join(str(m.msg) for m in errors), FIX_TTS)]
    if found:
        return [Result(WARN, TTS, "; ".join(str(m.msg) for m in found), FIX_TTS)]
    return [Result(OK, TTS, settings.LINLI_VOICE_TTS)]


def check_public_url() -> list[Result]:
    url = getattr(settings, "LINLI_PUBLIC_URL", "")
    if not url:
        status = FAIL if _production() else WARN
        return [Result(status, PUBLIC_URL, both_languages(NO_PUBLIC_URL), FIX_PUBLIC_URL)]
    return [Result(OK, PUBLIC_URL, url)]


def check_worker() -> list[Result]:
    backend = settings.TASKS["default"]["BACKEND"]
    if backend != DB_TASKS_BACKEND:
        status = WARN if _production() else OK
        return [Result(status, WORKER, both_languages(TASKS_INLINE, {"backend": backend}))]
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult as result_model

    now = timezone.now()
    waiting = result_model.objects.filter(
        status=TaskResultStatus.READY, run_after__lte=now - QUEUE_STALE
    ).count()
    if waiting:
        detail = both_languages(TASKS_WAITING, {"count": waiting, "minutes": _minutes(QUEUE_STALE)})
        return [Result(FAIL, WORKER, detail, FIX_WORKER)]
    last = (
        result_model.objects.filter(finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    if last is not None and now - last <= WORKER_RECENT:
        return [
            Result(OK, WORKER, both_languages(TASK_FINISHED, {"minutes": _minutes(now - last)}))
        ]
    detail = both_languages(WORKER_UNKNOWN, {"minutes": _minutes(WORKER_RECENT)})
    return [Result(UNKNOWN, WORKER, detail, FIX_WORKER)]


def check_screening_loop() -> list[Result]:
    campaign_model = apps.get_model("screening", "Campaign")
    now = timezone.now()
    running = list(
        campaign_model.objects.filter(status__in=("running", "paused")).values_list(
            "last_escalated_at", "launched_at"
        )
    )
    if not running:
        return [
            Result(UNKNOWN, SCREENING_LOOP, both_languages(SCREENING_UNKNOWN), FIX_SCREENING_LOOP)
        ]
    # A campaign launched a moment ago has not been swept yet: its launch stands for the run.
    marks = [last or launched or now for last, launched in running]
    behind = sum(1 for mark in marks if now - mark > LOOP_STALE)
    if behind:
        detail = both_languages(LOOP_BEHIND, {"count": behind, "minutes": _minutes(LOOP_STALE)})
        return [Result(FAIL, SCREENING_LOOP, detail, FIX_SCREENING_LOOP)]
    detail = both_languages(LOOP_RAN, {"minutes": _minutes(now - min(marks))})
    return [Result(OK, SCREENING_LOOP, detail)]


def check_workorder_loop() -> list[Result]:
    order_model = apps.get_model("workorders", "WorkOrder")
    notice_model = apps.get_model("workorders", "EscalationNotice")
    now = timezone.now()
    behind = order_model.objects.filter(next_escalation_at__lte=now - LOOP_STALE).count()
    if behind:
        detail = both_languages(LOOP_BEHIND, {"count": behind, "minutes": _minutes(LOOP_STALE)})
        return [Result(FAIL, WORKORDER_LOOP, detail, FIX_WORKORDER_LOOP)]
    last = notice_model.objects.order_by("-sent_at").values_list("sent_at", flat=True).first()
    if last is not None and now - last <= LOOP_STALE:
        detail = both_languages(LOOP_RAN, {"minutes": _minutes(now - last)})
        return [Result(OK, WORKORDER_LOOP, detail)]
    return [Result(UNKNOWN, WORKORDER_LOOP, both_languages(WORKORDER_UNKNOWN), FIX_WORKORDER_LOOP)]


# Checks that read the database, in order; skipped (reported, not run) when it is unreachable.
DATABASE_CHECKS: tuple[tuple[Message, Callable[[], list[Result]]], ...] = (
    (MIGRATIONS, check_migrations),
    (CACHE, check_cache_table),
    (KEYS, check_keys),
    (WORKER, check_worker),
    (SCREENING_LOOP, check_screening_loop),
    (WORKORDER_LOOP, check_workorder_loop),
)


def run_all() -> list[Result]:
    """Returns every check's result, in the order they are printed."""
    messages = system_messages()
    results = check_system(messages)
    database = check_database()
    results += database
    migrated = True
    for label, check in DATABASE_CHECKS:
        if database[0].status == FAIL:
            results.append(Result(UNKNOWN, label, both_languages(SKIPPED_NO_DATABASE)))
            continue
        if not migrated and check is not check_cache_table:
            # The apps' tables may not exist yet: the fix is the migration already reported.
            results.append(Result(UNKNOWN, label, both_languages(NOT_MIGRATED_SHORT)))
            continue
        try:
            found = check()
        except DatabaseError as exc:
            found = [Result(FAIL, label, str(exc).strip().splitlines()[0], FIX_MIGRATE)]
        if check is check_migrations and found[0].status == FAIL:
            migrated = False
        results += found
    results += check_static() + check_sms() + check_tts(messages) + check_public_url()
    return results


class Command(BaseCommand):
    help = "Verify a production configuration: one line per check, non-zero exit on failure."

    requires_system_checks: list[str] = []  # it runs them itself and reports them as a line

    def handle(self, *args: object, **options: object) -> None:
        results = run_all()
        for result in results:
            self.stdout.write(result.line())
        failed = sum(1 for result in results if result.status == FAIL)
        if failed:
            raise CommandError(both_languages(FAILED, {"count": failed}))
