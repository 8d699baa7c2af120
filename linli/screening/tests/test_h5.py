"""The H5 link channel: sending signed links by SMS, and the resident's page and its answers."""

import json
import re
import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from linli.adapters import sms
from linli.adapters.sms.locmem import LocmemBackend
from linli.audit.models import AuditEvent
from linli.core.links import make_token
from linli.screening import channels, h5, tasks
from linli.screening.models import (
    AttemptOutcome,
    CampaignTarget,
    ContactAttempt,
    ScreeningAction,
    TargetStatus,
)
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import links as link_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.screening.tests.builders import draft

PUBLIC = "https://linli.example.cn"
LINK = re.compile(r"https?://\S+/h/[0-9A-Za-z._-]+")


@pytest.fixture(autouse=True)
def public_url(settings):
    settings.LINLI_PUBLIC_URL = PUBLIC


@pytest.fixture
def running(world, town):
    """A running daily-symptom campaign over community A by H5 and door knock, deadline in
    two days. Reachable by H5: 张三丰, 王小明, 王小红. Not: 李秀英 (tagged no smartphone),
    赵大爷 (no phone), 钱阿姨 (no smartphone)."""
    questionnaire = questionnaire_services.create_questionnaire(
        name="每日健康监测", area=world.a.community, by=world.lead_a, from_template="daily_symptoms"
    )
    campaign = draft(
        world,
        questionnaire,
        channels=["h5", "door_knock"],
        deadline=timezone.now() + timedelta(days=2),
    )
    return campaign_services.launch_campaign(campaign=campaign, by=world.lead_a)


def target_of(campaign, person) -> CampaignTarget:
    return CampaignTarget.objects.get(campaign=campaign, person=person)


def page_path(target, **query) -> str:
    url = h5.link_for(target)
    path = urlsplit(url).path
    if query:
        path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return path


def answer_path(target) -> str:
    return reverse("screening:h5_answer", args=[h5.token_for(target)])


def post_json(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def texted_numbers() -> list[str]:
    return sorted(message.to for message in sms.outbox)


# --- Sending ----------------------------------------------------------------------------------


def test_send_links_texts_each_reachable_unreached_target_once(world, town, running):
    run = link_services.send_links(campaign=running, by=world.lead_a)
    assert (run.sent, run.failed) == (3, 0)
    # 张三丰, 王小明, 王小红; never 李秀英 (no smartphone), 赵大爷 (no phone), 钱阿姨.
    assert texted_numbers() == ["13700000001", "13700000002", "13812345678"]
    for person in (world.resident_a, town.floating_head, town.floating_child):
        target = target_of(running, person)
        assert target.links_sent == 1 and target.link_sent_at is not None
    for person in (world.resident_a2, town.no_phone, town.no_smartphone):
        assert target_of(running, person).links_sent == 0

    again = link_services.send_links(campaign=running, by=world.lead_a)
    assert (again.sent, again.failed) == (0, 0)
    assert len(sms.outbox) == 3


def test_the_message_names_the_community_and_carries_a_working_link(client, world, running):
    link_services.send_links(campaign=running, by=world.lead_a)
    message = next(m for m in sms.outbox if m.to == "13812345678")
    assert message.text.startswith("长延堡社区")
    assert message.reference == f"h5-target:{target_of(running, world.resident_a).pk}"
    [url] = LINK.findall(message.text)
    assert url.startswith(PUBLIC + "/")
    assert message.text.endswith(url)
    response = client.get(urlsplit(url).path)
    assert response.status_code == 200
    body = response.content.decode()
    assert "张*丰" in body and "张三丰" not in body


# A realistic message: the community of the demo, a shipped template's name, a production
# address and a token of the real length (36 characters).
TOKEN_36 = f"{'a' * 6}.{'b' * 6}.{'c' * 22}"


def test_the_sms_fits_one_segment_with_a_realistic_name_and_token(settings):
    settings.LINLI_PUBLIC_URL = ""  # the base passed in stands for it
    url = h5.link_for_token(TOKEN_36, base="https://linli.gov.cn")
    assert url == f"https://linli.gov.cn/h/{TOKEN_36}" and len(TOKEN_36) == 36
    text = h5.sms_text(sender="长延堡社区", campaign_name="来返人员排查", url=url)
    assert text.startswith("长延堡社区") and text.endswith(url)
    assert len(text) <= 70 and sms.count_segments(text) == 1
    # A shorter address keeps the campaign's name too.
    short = h5.link_for_token(TOKEN_36, base="https://ll.cn")
    text = h5.sms_text(sender="长延堡社区", campaign_name="来返人员排查", url=short)
    assert "“来返人员排查”" in text and sms.count_segments(text) == 1
    # A longer address keeps one segment by giving up words, then the sender's last ones.
    for base, expected in (
        ("http://localhost:8011", "长延堡社区请填问卷："),
        ("http://localhost:49977", "长延堡社区问卷："),
        ("http://192.168.1.20:8011", "长延堡社问卷："),
        ("https://linli.example.cn", "长延堡社问卷："),
    ):
        local = h5.link_for_token(TOKEN_36, base=base)
        text = h5.sms_text(sender="长延堡社区", campaign_name="来返人员排查", url=local)
        assert text == expected + local and sms.count_segments(text) == 1


def test_links_follow_the_host_the_send_was_started_on(client, world, running, settings):
    settings.LINLI_PUBLIC_URL = ""
    settings.ALLOWED_HOSTS = ["linli.test"]
    client.force_login(world.lead_a)
    url = reverse("screening:send_links", args=[running.pk])
    page = client.get(url, HTTP_HOST="linli.test:8011").content.decode()
    assert "http://linli.test:8011/h/" in page  # the sample
    client.post(url, {"confirm": "1"}, HTTP_HOST="linli.test:8011")
    assert len(sms.outbox) == 3
    for message in sms.outbox:
        [link] = LINK.findall(message.text)
        assert link.startswith("http://linli.test:8011/h/")


def test_the_long_form_of_a_link_keeps_working(client, world, running):
    target = target_of(running, world.resident_a)
    short = client.get(page_path(target))
    long = client.get(reverse("screening:h5", args=[h5.token_for(target)]))
    assert short.status_code == long.status_code == 200
    assert urlsplit(h5.link_for(target)).path.startswith("/h/")


def test_a_reached_target_is_not_texted(client, world, running):
    target = target_of(running, world.resident_a)
    post_json(
        client,
        answer_path(target),
        {"idempotency_key": "k-before", "answers": {"temperature": "36.5"}},
    )
    link_services.send_links(campaign=running, by=world.lead_a)
    assert "13812345678" not in texted_numbers()
    assert len(sms.outbox) == 2


def test_a_resend_waits_for_the_interval_and_stops_at_the_cap(world, running):
    start = timezone.now()
    campaign_services.update_campaign(
        campaign=running, by=world.lead_a, deadline=start + timedelta(days=9)
    )
    link_services.send_links(campaign=running, by=world.lead_a, now=start)
    assert len(sms.outbox) == 3
    link_services.send_links(campaign=running, by=world.lead_a, now=start + timedelta(hours=1))
    assert len(sms.outbox) == 3  # within the resend interval
    for round_ in range(1, h5.MAX_LINKS + 2):
        later = start + h5.RESEND_AFTER * round_ + timedelta(minutes=1)
        link_services.send_links(campaign=running, by=world.lead_a, now=later)
    assert len(sms.outbox) == 3 * h5.MAX_LINKS
    assert target_of(running, world.resident_a).links_sent == h5.MAX_LINKS


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_text_each_person_once(world, running):
    """Two staff press "send" at the same moment: claims skip the rows the other run holds.
    PostgreSQL only: SQLite serialises writers anyway."""
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections")
    barrier = threading.Barrier(2)
    runs, errors = [], []

    def run():
        try:
            barrier.wait()
            runs.append(link_services.send_links(campaign=running, by=world.lead_a))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.sent for r in runs) == 3
    assert texted_numbers() == ["13700000001", "13700000002", "13812345678"]


def test_a_run_is_audited_without_any_phone_number(world, running):
    link_services.send_links(campaign=running, by=world.lead_a)
    event = AuditEvent.objects.get(action=ScreeningAction.SEND_LINKS)
    assert event.actor == world.lead_a
    assert event.object_id == str(running.pk)
    assert event.detail["sent"] == 3
    recorded = json.dumps([event.detail, event.object_label, event.object_id], ensure_ascii=False)
    for number in ("13812345678", "13700000001", "13700000002"):
        assert number not in recorded
        assert number[-4:] not in recorded


def test_a_refused_message_gives_its_claim_back_and_is_recorded(world, running, monkeypatch):

    def refuse_all(self, messages):
        return [m.result(accepted=False, error="blacklisted") for m in messages]

    monkeypatch.setattr(LocmemBackend, "send_messages", refuse_all)
    run = link_services.send_links(campaign=running, by=world.lead_a)
    assert (run.sent, run.failed) == (0, 3)
    target = target_of(running, world.resident_a)
    assert target.links_sent == 0 and target.link_sent_at is None
    failed = ContactAttempt.objects.get(target=target)
    assert failed.outcome == AttemptOutcome.FAILED and failed.channel == "h5"
    assert "13812345678" not in json.dumps(failed.detail)


def test_only_campaign_managers_send_and_only_while_running(world, running):
    from django.core.exceptions import PermissionDenied, ValidationError

    with pytest.raises(PermissionDenied):
        link_services.send_links(campaign=running, by=world.grid_a)
    campaign_services.pause_campaign(campaign=running, by=world.lead_a)
    with pytest.raises(ValidationError):
        link_services.send_links(campaign=running, by=world.lead_a)
    assert sms.outbox == []


def test_the_channel_sends_one_target_its_link(world, running):
    target = target_of(running, world.resident_a)
    dispatch = channels.get_channel("h5").send(target=target)
    assert dispatch is not None and dispatch.target_id == target.pk and dispatch.channel == "h5"
    assert texted_numbers() == ["13812345678"]
    assert channels.get_channel("h5").send(target=target) is None  # not twice in a row
    no_phone = target_of(running, world.resident_a2)
    assert channels.get_channel("h5").send(target=no_phone) is None
    assert len(sms.outbox) == 1


# --- The sending page -------------------------------------------------------------------------


def test_the_lead_sends_from_the_page_and_sees_the_progress(client, world, running):
    client.force_login(world.lead_a)
    url = reverse("screening:send_links", args=[running.pk])
    page = client.get(url)
    assert page.status_code == 200
    # The sample names the community (cut to keep one segment under the test's long address).
    assert "长延堡社" in page.content.decode()
    # The first POST only asks to confirm: the text, the recipients, the segments.
    confirm = client.post(url)
    assert confirm.status_code == 200 and sms.outbox == []
    body = confirm.content.decode()
    assert 'data-testid="h5-confirm"' in body and 'name="confirm" value="1"' in body
    assert 'data-testid="h5-recipients">3<' in body
    assert 'data-testid="h5-segments">1<' in body and 'data-testid="h5-total-segments">3<' in body
    response = client.post(url, {"confirm": "1"})
    assert response.status_code == 303
    assert len(sms.outbox) == 3
    progress = client.get(response["Location"], HTTP_HX_REQUEST="true")
    assert progress.status_code == 200
    body = progress.content.decode()
    assert 'data-finished="true"' in body and 'value="100"' in body
    assert 'data-testid="h5-sent">3<' in body


def test_the_progress_bar_polls_until_the_worker_has_sent(
    client, world, running, settings, monkeypatch
):
    """With the database task backend (as in production) the page shows the run queued,
    then done once `manage.py db_worker` has run it."""
    from django.core.management import call_command
    from django_tasks_db.management.commands import db_worker

    # The worker drops stale connections between tasks; here it shares the test's own.
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    client.force_login(world.lead_a)
    url = reverse("screening:send_links", args=[running.pk])
    queued = client.post(url, {"confirm": "1"})
    assert queued.status_code == 303
    assert sms.outbox == []
    waiting = client.get(queued["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert 'data-finished="false"' in waiting and "hx-trigger" in waiting
    # Queued, not "0 %": the worker has not started.
    assert 'data-queued="true"' in waiting and "排队中" in waiting and "0%" not in waiting
    # While the run is queued the page (even without the run in its address) disables the
    # button, and a second confirmation is refused.
    page = client.get(url).content.decode()
    assert re.search(r'data-testid="h5-send"[^>]*disabled', page)
    again = client.post(url, {"confirm": "1"})
    assert again.status_code == 400 and "正在发送" in again.content.decode()
    call_command("db_worker", batch=True, startup_delay=False, verbosity=0)
    assert len(sms.outbox) == 3
    done = client.get(queued["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert 'data-finished="true"' in done and "hx-trigger" not in done
    # Nobody is left: the button stays disabled and another send is refused.
    assert re.search(r'data-testid="h5-send"[^>]*disabled', client.get(url).content.decode())
    assert client.post(url, {"confirm": "1"}).status_code == 400
    assert len(sms.outbox) == 3


def test_a_paused_campaign_says_why_it_sends_nothing(client, world, running):
    campaign_services.pause_campaign(campaign=running, by=world.lead_a)
    client.force_login(world.lead_a)
    response = client.post(reverse("screening:send_links", args=[running.pk]), {"confirm": "1"})
    assert response.status_code == 400
    assert "排查未在进行中" in response.content.decode()
    assert sms.outbox == []


def test_a_grid_worker_cannot_send(client, world, running):
    client.force_login(world.grid_a)
    url = reverse("screening:send_links", args=[running.pk])
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    assert sms.outbox == []


# --- The resident's page ----------------------------------------------------------------------


def test_the_page_shows_the_masked_name_then_the_first_question(client, world, running):
    target = target_of(running, world.resident_a)
    intro = client.get(page_path(target))
    body = intro.content.decode()
    assert intro.status_code == 200
    assert "张*丰" in body and "张三丰" not in body
    assert "个人信息保护法" in body  # the intro states the legal basis
    assert "13812345678" not in body and "5678" not in body
    first = client.get(page_path(target, **{"as": "self"}))
    assert "请测量并告诉我们您今天的体温" in first.content.decode()


def test_json_answers_follow_the_branching_to_the_end(client, world, running):
    target = target_of(running, world.resident_a)
    path = answer_path(target)
    steps = [
        ({"temperature": "36.6"}, "symptoms"),
        ({"symptoms": ["none"]}, "contact_confirmed"),
        ({"contact_confirmed": False}, "tested_today"),
        ({"tested_today": None}, "medication_needs"),
        # "No" skips the medication details and jumps to the help question.
        ({"medication_needs": False}, "needs_help"),
    ]
    for number, (answers, expected) in enumerate(steps):
        response = post_json(client, path, {"idempotency_key": f"k-{number}", "answers": answers})
        assert response.status_code == 200, response.content
        assert response.json() == {
            "saved": True,
            "created": True,
            "next_question": expected,
            "complete": False,
        }
    last = post_json(client, path, {"idempotency_key": "k-last", "answers": {"needs_help": False}})
    assert last.json() == {"saved": True, "created": True, "next_question": None, "complete": True}
    target.refresh_from_db()
    assert target.status == TargetStatus.REACHED and target.complete
    assert "medication_detail" not in target.answers
    done = client.get(page_path(target))
    assert 'data-testid="h5-done"' in done.content.decode()


def test_a_replayed_key_stores_nothing_twice(client, world, running):
    target = target_of(running, world.resident_a)
    path = answer_path(target)
    body = {"idempotency_key": "k-replay", "answers": {"temperature": "36.6"}}
    assert post_json(client, path, body).json()["created"] is True
    body["answers"] = {"temperature": 36.6}  # the same answer, as a number this time
    again = post_json(client, path, body)
    assert again.status_code == 200
    assert again.json() == {
        "saved": True,
        "created": False,
        "next_question": "symptoms",
        "complete": False,
    }
    target.refresh_from_db()
    assert target.attempt_count == 1
    assert target.answers == {"temperature": 36.6}
    assert ContactAttempt.objects.filter(target=target).count() == 1


@pytest.mark.parametrize(
    ("language", "said"), [("zh-hans", "这次保存已收到过不同的回答"), ("en", "already received")]
)
def test_a_replayed_key_with_other_answers_is_refused_in_the_pages_language(
    client, world, running, language, said
):
    """A retry with a stored key but other answers (another tab or phone) is a 409 saying so
    in the page's language; the stored answers stand and nothing new is stored."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language  # the page's language switch
    target = target_of(running, world.resident_a)
    path = answer_path(target)
    first = {"idempotency_key": "k-changed", "answers": {"temperature": "36.6"}}
    assert post_json(client, path, first).json()["created"] is True
    for changed in (
        {"answers": {"temperature": "39.5"}},
        {"answers": {"temperature": "36.6"}, "by_proxy": True},
        {"answers": {}, "outcome": "refused"},
    ):
        response = post_json(client, path, {**first, **changed})
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "key_reused"
        assert said in response.json()["error"]
    target.refresh_from_db()
    assert target.answers == {"temperature": 36.6}
    assert ContactAttempt.objects.filter(target=target).count() == 1


def test_the_page_shows_a_refused_retry():
    """h5.js shows a 409's message at the question instead of retrying or saying "saved"."""
    script = (Path(__file__).resolve().parents[1] / "static" / "screening" / "h5.js").read_text()
    handler = script[script.index("status === 409") :]
    assert "showError(this.form, data.error)" in handler[: handler.index("return;")]


def test_a_bad_answer_is_refused_at_its_question_and_nothing_is_stored(client, world, running):
    target = target_of(running, world.resident_a)
    response = post_json(
        client,
        answer_path(target),
        {"idempotency_key": "k-bad", "answers": {"temperature": "hot", "symptoms": ["none"]}},
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == ["temperature"]
    assert "请填写数字" in errors["temperature"]
    target.refresh_from_db()
    assert target.answers == {} and target.attempt_count == 0
    assert not ContactAttempt.objects.filter(target=target).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"answers": {"temperature": "36.6"}}, "idempotency_key"),
        ({"idempotency_key": "x" * 101, "answers": {"temperature": "36.6"}}, "idempotency_key"),
        ({"idempotency_key": "k", "answers": ["36.6"]}, "answers"),
        ({"idempotency_key": "k", "answers": {}}, "answers"),
        (
            {"idempotency_key": "k", "answers": {"temperature": "36.6"}, "by_proxy": "yes"},
            "by_proxy",
        ),
        ({"idempotency_key": "k", "answers": {}, "outcome": "no_answer"}, "outcome"),
        ({"idempotency_key": "k", "answers": {"nope": 1}}, "nope"),
    ],
)
def test_a_malformed_submission_is_refused_by_field(client, world, running, body, field):
    target = target_of(running, world.resident_a)
    response = post_json(client, answer_path(target), body)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not ContactAttempt.objects.exists()


def test_a_body_that_is_not_json_is_refused(client, world, running):
    target = target_of(running, world.resident_a)
    response = client.post(answer_path(target), data="{", content_type="application/json")
    assert response.status_code == 400
    assert "body" in response.json()["errors"]


def test_forged_expired_and_ended_links(client, world, running):
    target = target_of(running, world.resident_a)
    forged = h5.token_for(target)[:-3] + "AAA"
    assert client.get(reverse("screening:h5", args=[forged])).status_code == 404
    response = post_json(
        client,
        reverse("screening:h5_answer", args=[forged]),
        {"idempotency_key": "k", "answers": {"temperature": "36.6"}},
    )
    assert response.status_code == 404 and "error" in response.json()
    other_purpose = make_token(purpose="other", subject=str(target.pk), max_age=timedelta(days=1))
    assert client.get(reverse("screening:h5", args=[other_purpose])).status_code == 404

    expired = make_token(
        purpose=h5.PURPOSE,
        subject=str(target.pk),
        max_age=timedelta(hours=1),
        now=timezone.now() - timedelta(days=1),
    )
    page = client.get(reverse("screening:h5", args=[expired]))
    assert page.status_code == 410
    # One language on a resident's page: Chinese unless they switched.
    assert "链接已过期" in page.content.decode() and "expired" not in page.content.decode()
    assert "张*丰" not in page.content.decode()
    response = post_json(
        client,
        reverse("screening:h5_answer", args=[expired]),
        {"idempotency_key": "k", "answers": {"temperature": "36.6"}},
    )
    assert response.status_code == 410

    campaign_services.close_campaign(campaign=running, by=world.lead_a)
    ended = client.get(page_path(target))
    assert ended.status_code == 410
    assert "本次排查已结束" in ended.content.decode()
    response = post_json(
        client, answer_path(target), {"idempotency_key": "k", "answers": {"temperature": "36.6"}}
    )
    assert response.status_code == 410
    assert not ContactAttempt.objects.exists()


def test_the_form_post_without_javascript_saves_and_resumes(client, world, running):
    target = target_of(running, world.resident_a)
    form = client.get(page_path(target, **{"as": "self"})).content.decode()
    nonce = re.search(r'name="nonce" value="([0-9a-f]+)"', form).group(1)
    data = {
        "question": "temperature",
        "kind": "number",
        "answer": "36.8",
        "by_proxy": "0",
        "nonce": nonce,
        "action": "save",
    }
    response = client.post(answer_path(target), data)
    assert response.status_code == 303
    assert "as=self" in response["Location"]
    # The browser sends the same form twice (a double tap): one save.
    assert client.post(answer_path(target), data).status_code == 303
    target.refresh_from_db()
    assert target.answers == {"temperature": 36.8} and target.attempt_count == 1
    following = client.get(response["Location"]).content.decode()
    assert "您今天有没有以下症状" in following
    # A closed tab and a reopened link resume at the next unanswered question...
    reopened = client.get(page_path(target)).content.decode()
    assert "您今天有没有以下症状" in reopened
    # ...and going back shows the saved answer filled in.
    back = client.get(page_path(target, q="temperature")).content.decode()
    assert 'value="36.8"' in back


def test_a_bad_form_answer_shows_the_error_at_the_question(client, world, running):
    target = target_of(running, world.resident_a)
    response = client.post(
        answer_path(target),
        {"question": "temperature", "kind": "number", "answer": "99", "by_proxy": "0"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "请填写34到43之间的数" in body
    assert "请测量并告诉我们您今天的体温" in body
    assert 'value="99"' in body
    assert not ContactAttempt.objects.exists()


def test_multiple_choice_by_form(client, world, running):
    target = target_of(running, world.resident_a)
    client.post(answer_path(target), {"question": "temperature", "answer": "36.5"})
    response = client.post(
        answer_path(target),
        {"question": "symptoms", "kind": "multiple_choice", "answer": ["cough", "fever"]},
    )
    assert response.status_code == 303
    target.refresh_from_db()
    assert target.answers["symptoms"] == ["fever", "cough"]


def test_a_family_member_answering_is_recorded_as_proxy(client, world, running):
    target = target_of(running, world.resident_a)
    response = post_json(
        client,
        answer_path(target),
        {"idempotency_key": "k-proxy", "answers": {"temperature": "36.6"}, "by_proxy": True},
    )
    assert response.status_code == 200
    attempt = ContactAttempt.objects.get(idempotency_key="k-proxy")
    assert attempt.by_proxy is True and attempt.by is None
    target.refresh_from_db()
    assert target.answered_by_proxy is True
    assert target.answer_sources["temperature"]["proxy"] is True
    # Reopened, the page goes on as the family member.
    page = client.get(page_path(target)).content.decode()
    assert 'name="by_proxy" value="1"' in page and "您今天有没有以下症状" in page


def test_i_dont_want_to_answer_records_a_refusal(client, world, running):
    target = target_of(running, world.resident_a)
    response = post_json(
        client, answer_path(target), {"idempotency_key": "k-no", "outcome": "refused"}
    )
    assert response.status_code == 200
    target.refresh_from_db()
    assert target.status == TargetStatus.REFUSED
    assert ContactAttempt.objects.get(idempotency_key="k-no").outcome == AttemptOutcome.REFUSED
    page = client.get(page_path(target)).content.decode()
    assert 'data-testid="h5-refused"' in page
    # By form, the refusal lands on the same acknowledgement.
    form = client.post(answer_path(target), {"action": "refuse", "by_proxy": "0"})
    assert form.status_code == 303 and "stopped=1" in form["Location"]


def test_the_answer_endpoint_never_loads_a_session_or_a_user(client, world, running):
    """Lean under a surge: the signed token is the whole authentication."""
    target = target_of(running, world.resident_a)
    path = answer_path(target)
    with CaptureQueriesContext(connection) as queries:
        response = post_json(
            client, path, {"idempotency_key": "k-lean", "answers": {"temperature": "36.6"}}
        )
    assert response.status_code == 200
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "django_session" not in sql
    assert "accounts_user" not in sql
    assert "set-cookie" not in {h.lower() for h in response.headers}


def test_a_run_left_behind_by_another_process_does_not_block_sending(client, world, running):
    """The worker (another process) ends a run but cannot clear this process's cache: a run
    that its task or its counts say is over is forgotten, and the button comes back."""
    cache.set(
        tasks._RUN_KEY.format(running.pk),
        {"since": timezone.now().timestamp(), "planned": 3, "result_id": "gone"},
    )
    client.force_login(world.lead_a)
    page = client.get(reverse("screening:send_links", args=[running.pk])).content.decode()
    assert not re.search(r'data-testid="h5-send"[^>]*disabled', page)
    assert tasks.running_send(running) is None


def test_the_send_guard_is_shared_by_every_process(running):
    """Two web workers are two processes: the run one of them holds (cache.add, as
    enqueue_send_links does) must refuse the other's add, so the guard lives in the shared
    database cache, not in a process's memory."""
    from django.core.cache.backends.db import DatabaseCache

    key = tasks._RUN_KEY.format(running.pk)
    run = {"since": timezone.now().timestamp(), "planned": 3}
    assert cache.add(key, run, 60)
    other_process = DatabaseCache("linli_cache", {})
    assert not other_process.add(key, run, 60)
    cache.delete(key)
    assert other_process.add(key, run, 60)
