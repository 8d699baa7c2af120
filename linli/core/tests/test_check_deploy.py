"""`linli check-deploy`: one line per check, the fix beside each failure, non-zero on failure."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from linli.core.management.commands.check_deploy import LOOP_STALE


@pytest.fixture
def good(settings, tmp_path, monkeypatch):
    """A configuration that passes what applies in tests: static collected, public URL set.
    The browser stories' conftest allows sync ORM calls under Playwright's loop for the whole
    run (DJANGO_ALLOW_ASYNC_UNSAFE), which Django's deploy checks rightly refuse."""
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)
    (tmp_path / "staticfiles.json").write_text("{}")
    settings.STATIC_ROOT = tmp_path
    settings.LINLI_PUBLIC_URL = "https://linli.example.gov.cn"
    return settings


def run(*, fails: bool) -> str:
    out = StringIO()
    if fails:
        with pytest.raises(CommandError) as caught:
            call_command("check_deploy", stdout=out)
        assert "check(s) failed" in str(caught.value)
    else:
        try:
            call_command("check_deploy", stdout=out)
        except CommandError as error:
            # Say which check failed, not only that one did.
            raise AssertionError(out.getvalue()) from error
    return out.getvalue()


def line(output: str, label: str) -> str:
    found = [text for text in output.splitlines() if label in text]
    assert len(found) == 1, output
    return found[0]


@pytest.mark.django_db
def test_a_good_configuration_passes_and_says_what_it_cannot_know(good):
    output = run(fails=False)
    for label in (
        "Database reachable",
        "Migrations applied",
        "Cache table",
        "Data and hash keys",
        "Static files collected",
        "SMS backend",
        "Speech engine",
        "Public URL",
        "Task worker",
    ):
        assert line(output, label).startswith("OK "), output
    # No running campaign, no escalation due: the loops leave no trace to judge them by.
    assert line(output, "Screening escalation loop").startswith("UNKNOWN ")
    assert line(output, "Work order escalation loop").startswith("UNKNOWN ")
    assert "FAIL" not in output
    # Every line speaks both languages.
    assert "数据库" in line(output, "Database reachable")


@pytest.mark.django_db
def test_an_unmigrated_database_fails_with_migrate_as_the_fix(good):
    app, name = sorted(MigrationLoader(connection).graph.leaf_nodes())[0]
    MigrationRecorder(connection).migration_qs.filter(app=app, name=name).delete()
    text = line(run(fails=True), "Migrations applied")
    assert text.startswith("FAIL ")
    assert "1 migration(s) not applied" in text
    assert "linli migrate" in text


@pytest.mark.django_db
def test_a_missing_cache_table_fails(good):
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE linli_cache")
    text = line(run(fails=True), "Cache table")
    assert text.startswith("FAIL ")
    assert "linli_cache" in text and "createcachetable" in text


@pytest.mark.django_db
def test_a_missing_key_fails(good):
    good.LINLI_HASH_KEY = ""
    text = line(run(fails=True), "Data and hash keys")
    assert text.startswith("FAIL ")
    assert "LINLI_HASH_KEY is not set" in text
    assert "/etc/linli/env" in text


def test_a_data_key_that_cannot_open_stored_identifiers_fails(good, world):
    good.LINLI_DATA_KEY = "not-the-key-they-were-sealed-with"
    text = line(run(fails=True), "Data and hash keys")
    assert text.startswith("FAIL ")
    assert "cannot open a stored identifier" in text


def test_the_keys_are_tried_on_a_stored_identifier(good, world):
    assert "opens and hashes as stored" in line(run(fails=False), "Data and hash keys")


@pytest.mark.django_db
def test_debug_on_in_production_fails_the_system_checks(good):
    good.LINLI_ENV = "production"
    good.DEBUG = True
    output = run(fails=True)
    text = line(output, "System checks")
    assert text.startswith("FAIL ")
    assert "linli.E011" in text and "LINLI_DEBUG must be off" in text
    # Production also wants a real SMS gateway: the console/locmem one is a warning.
    assert line(output, "SMS backend").startswith("WARN ")


@pytest.mark.django_db
def test_a_queue_no_worker_takes_fails(good):
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    good.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    old = timezone.now() - timedelta(hours=1)
    DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="linli.screening.tasks.escalate_campaigns",
        backend_name="default",
        run_after=old,
    )
    text = line(run(fails=True), "Task worker")
    assert text.startswith("FAIL ")
    assert "systemctl start linli-worker" in text


def test_a_running_campaign_not_escalated_for_long_fails(good, world):
    from django.utils import timezone

    from linli.screening.models import Campaign
    from linli.screening.services import campaigns as campaign_services
    from linli.screening.tests.builders import arrivals_for, draft

    campaign = campaign_services.launch_campaign(
        campaign=draft(world, arrivals_for(world)), by=world.lead_a
    )
    assert line(run(fails=False), "Screening escalation loop").startswith("OK ")
    stale = timezone.now() - LOOP_STALE * 3
    Campaign.objects.filter(pk=campaign.pk).update(launched_at=stale, last_escalated_at=stale)
    text = line(run(fails=True), "Screening escalation loop")
    assert text.startswith("FAIL ")
    assert "linli-escalate-screening" in text


def test_the_linli_command_takes_the_hyphenated_name(monkeypatch):
    import sys

    from django.core import management

    from linli import cli

    seen: list[list[str]] = []
    monkeypatch.setattr(management, "execute_from_command_line", seen.append)
    monkeypatch.setattr(sys, "argv", ["linli", "check-deploy", "--no-color"])
    cli.main()
    assert seen == [["linli", "check_deploy", "--no-color"]]


@pytest.mark.django_db
def test_an_unusable_speech_engine_fails_on_its_own_line(good):
    good.LINLI_VOICE_TTS = "linli.adapters.tts.no_such_engine.Engine"
    output = run(fails=True)
    assert line(output, "Speech engine").startswith("FAIL ")
    assert "espeak-ng" in line(output, "Speech engine")
    assert "linli.E052" not in line(output, "System checks")


@pytest.mark.django_db
def test_migrate_makes_the_cache_table(good):
    from django.core.management.sql import emit_post_migrate_signal

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE linli_cache")
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert "linli_cache" in connection.introspection.table_names()
    assert line(run(fails=False), "Cache table").startswith("OK ")
