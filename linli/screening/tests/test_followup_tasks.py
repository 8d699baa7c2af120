"""Follow-up tasks: risky answers raise a task for the person's grid worker and a flag on the
person's file; workers close them with a note, and only the screeners may."""

import re
import threading
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from linli.audit.models import AuditEvent
from linli.screening.models import CampaignTarget, FollowUpTask, ScreeningAction, TaskStatus
from linli.screening.selectors import followups as followup_selectors
from linli.screening.services import attempts as attempt_services
from linli.screening.services import followups as followup_services
from linli.screening.tests.builders import add_person

FEVER_KINDS = {"door_visit", "health_monitoring_proposal"}


def target_of(campaign, person) -> CampaignTarget:
    return CampaignTarget.objects.get(campaign=campaign, person=person)


def h5(target, key: str, **answers):
    return attempt_services.record_attempt(
        target=target, channel="h5", outcome="answered", answers=answers, idempotency_key=key
    )


def fever(world, campaign, key: str = "fever-1"):
    """张三丰 reports 38.5 ℃ by H5; returns his target."""
    target = target_of(campaign, world.resident_a)
    h5(target, key, temperature="38.5")
    return target


def tasks_of(target) -> dict[str, FollowUpTask]:
    return {task.kind: task for task in FollowUpTask.objects.filter(target=target)}


# --- Raising ----------------------------------------------------------------------------------


def test_a_fever_answer_raises_one_task_per_follow_up_at_the_persons_area(world, running):
    """The daily template's fever rule names a door visit and a health monitoring proposal:
    one open task each, at the person's area, with the risk level and the reason."""
    target = fever(world, running)
    tasks = tasks_of(target)
    assert set(tasks) == FEVER_KINDS
    for task in tasks.values():
        assert task.status == TaskStatus.OPEN
        assert task.risk_level == "high"
        assert any("发热" in reason for reason in task.reasons)
        assert task.person_id == world.resident_a.pk
        assert task.campaign_id == running.pk
        assert task.area_path == world.resident_a.area_path


def test_a_harmless_answer_raises_nothing(world, running):
    target = target_of(running, world.resident_a)
    h5(target, "ok-1", temperature="36.5", symptoms=["none"], contact_confirmed=False)
    assert tasks_of(target) == {}


def test_saying_one_needs_help_raises_a_help_task(world, running):
    """Need for help carries no risk level but still calls for someone to act."""
    target = target_of(running, world.resident_a2)
    h5(target, "help-1", needs_help=True)
    assert set(tasks_of(target)) == {"need_help"}
    assert tasks_of(target)["need_help"].risk_level == "none"


def test_medium_or_high_risk_without_a_named_follow_up_raises_a_door_visit(world, running):
    """A community's own rule may flag a risk without naming a follow-up: somebody still
    goes to the door."""
    target = target_of(running, world.resident_a)
    target.risk_level, target.follow_ups, target.risk_reasons = "medium", [], ["自定义规则"]
    assert followup_services.raise_follow_up_tasks(target=target) == ["door_visit"]
    target.risk_level = "low"
    assert followup_services.follow_ups_called_for(target) == []


def test_a_replayed_or_repeated_answer_does_not_duplicate_tasks(world, running):
    """A retried submission (same key) and a second fever report (new key) leave one task
    per kind."""
    target = fever(world, running)
    fever(world, running, key="fever-1")
    fever(world, running, key="fever-2")
    assert FollowUpTask.objects.filter(target=target).count() == len(FEVER_KINDS)
    assert (
        followup_services.raise_follow_up_tasks(target=target_of(running, world.resident_a)) == []
    )
    assert FollowUpTask.objects.filter(target=target).count() == len(FEVER_KINDS)


def test_a_lower_risk_later_keeps_the_tasks_open_with_the_new_level(world, running):
    """A worker reviews a task before it goes away; the task shows the risk as it now is."""
    target = fever(world, running)
    h5(target, "fever-later", temperature="36.6", symptoms=["cough"])
    tasks = tasks_of(target)
    assert set(tasks) == FEVER_KINDS
    assert {t.status for t in tasks.values()} == {TaskStatus.OPEN}
    assert {t.risk_level for t in tasks.values()} == {"medium"}
    assert all(not any("发热" in r for r in t.reasons) for t in tasks.values())


def test_a_closed_task_is_not_raised_again_nor_changed(world, running):
    target = fever(world, running)
    door = tasks_of(target)["door_visit"]
    followup_services.close_follow_up_task(
        task=door, status="done", note="已上门测温", by=world.grid_a
    )
    h5(target, "fever-again", temperature="36.6")
    door.refresh_from_db()
    assert door.status == TaskStatus.DONE
    assert door.risk_level == "high"
    assert FollowUpTask.objects.filter(target=target, kind="door_visit").count() == 1


def test_an_attempt_refused_by_validation_raises_nothing(world, running):
    """Answers that do not fit are refused whole: no task without its answer."""
    target = target_of(running, world.resident_a)
    with pytest.raises(ValidationError):
        h5(target, "bad-1", temperature="38.5", symptoms=["no-such-code"])
    assert tasks_of(target) == {}


@pytest.mark.django_db(transaction=True)
def test_concurrent_raises_for_one_target_store_one_task_per_kind(world, running):
    """Two transactions raising for the same target at once (without the attempt's row lock)
    still store one task per kind: the insert skips what the other committed. PostgreSQL only."""
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections")
    target = target_of(running, world.resident_a)
    CampaignTarget.objects.filter(pk=target.pk).update(
        risk_level="high", follow_ups=sorted(FEVER_KINDS), risk_reasons=["发热"]
    )
    barrier = threading.Barrier(3)
    errors = []

    def raise_tasks():
        try:
            fresh = CampaignTarget.objects.select_related("person").get(pk=target.pk)
            with transaction.atomic():
                barrier.wait()
                followup_services.raise_follow_up_tasks(target=fresh)
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=raise_tasks) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(FollowUpTask.objects.filter(target=target).values_list("kind", flat=True)) == (
        sorted(FEVER_KINDS)
    )


# --- Who sees them ----------------------------------------------------------------------------


def test_the_grid_worker_of_the_persons_grid_and_everyone_above_see_the_tasks(
    world, town, running, grid2_worker
):
    target = fever(world, running)
    expected = set(FollowUpTask.objects.filter(target=target).values_list("pk", flat=True))
    for user in (world.grid_a, world.lead_a, world.street_officer):
        assert set(followup_selectors.tasks_for(user).values_list("pk", flat=True)) == expected, (
            user
        )
    assert not followup_selectors.tasks_for(grid2_worker).exists()
    assert not followup_selectors.tasks_for(world.grid_b).exists()
    with pytest.raises(PermissionDenied):
        followup_selectors.tasks_for(world.volunteer_a)


def test_tasks_come_highest_risk_first_and_filter_by_kind_status_and_campaign(world, running):
    fever(world, running)
    h5(target_of(running, world.resident_a2), "help-1", needs_help=True)
    rows = followup_selectors.present_tasks(
        world.grid_a, followup_selectors.tasks_for(world.grid_a)
    )
    assert [r.risk_level for r in rows] == ["high", "high", "none"]
    assert [r.kind for r in rows][-1] == "need_help"
    help_only = followup_selectors.tasks_for(world.grid_a, kind="need_help")
    assert [t.person_id for t in help_only] == [world.resident_a2.pk]
    assert followup_selectors.tasks_for(world.grid_a, status="done").count() == 0
    assert followup_selectors.tasks_for(world.grid_a, status="", campaign=running).count() == 3


def test_officials_see_the_person_masked(world, running):
    fever(world, running)
    [row, *_] = followup_selectors.present_tasks(
        world.street_officer, followup_selectors.tasks_for(world.street_officer)
    )
    assert row.person.name == "张*丰"
    assert row.reasons  # health data is shown to officials (sensitive: clear)
    [row, *_] = followup_selectors.present_tasks(
        world.grid_a, followup_selectors.tasks_for(world.grid_a)
    )
    assert row.person.name == "张三丰"


# --- Closing ----------------------------------------------------------------------------------


def test_the_grid_worker_marks_a_task_done_and_it_is_audited(world, running):
    target = fever(world, running)
    door = tasks_of(target)["door_visit"]
    before = AuditEvent.objects.count()
    closed = followup_services.close_follow_up_task(
        task=door, status="done", note="  已上门，体温37.0  ", by=world.grid_a
    )
    assert closed.status == TaskStatus.DONE
    assert closed.note == "已上门，体温37.0"
    assert closed.done_by == world.grid_a
    assert closed.done_at is not None
    event = AuditEvent.objects.order_by("-id").first()
    assert AuditEvent.objects.count() == before + 1
    assert event.action == ScreeningAction.FOLLOW_UP_CLOSE
    assert event.actor == world.grid_a
    assert event.object_id == str(world.resident_a.pk)
    assert event.detail["task"] == door.pk
    assert event.detail["status"] == "done"
    assert "体温" not in str(event.detail)  # the note is health data: not in the log


def test_dismissing_needs_a_note_and_a_closed_task_cannot_be_closed_again(world, running):
    target = fever(world, running)
    monitoring = tasks_of(target)["health_monitoring_proposal"]
    with pytest.raises(ValidationError) as caught:
        followup_services.close_follow_up_task(task=monitoring, status="dismissed", by=world.lead_a)
    assert "note" in caught.value.message_dict
    followup_services.close_follow_up_task(
        task=monitoring, status="dismissed", note="已在医院隔离", by=world.lead_a
    )
    with pytest.raises(ValidationError):
        followup_services.close_follow_up_task(task=monitoring, status="done", by=world.lead_a)
    with pytest.raises(ValidationError):
        followup_services.close_follow_up_task(
            task=tasks_of(target)["door_visit"], status="open", by=world.grid_a
        )
    with pytest.raises(ValidationError):
        followup_services.close_follow_up_task(
            task=tasks_of(target)["door_visit"], status="done", note="x" * 501, by=world.grid_a
        )


@pytest.mark.parametrize("persona", ["volunteer_a", "street_officer", "steward_a", "grid_b"])
def test_only_screeners_of_the_area_close_tasks(world, running, persona):
    target = fever(world, running)
    door = tasks_of(target)["door_visit"]
    with pytest.raises(PermissionDenied):
        followup_services.close_follow_up_task(
            task=door, status="done", note="x", by=getattr(world, persona)
        )
    door.refresh_from_db()
    assert door.status == TaskStatus.OPEN


# --- Pages ------------------------------------------------------------------------------------


def test_the_task_list_shows_the_grid_workers_open_tasks(world, running, client_for):
    fever(world, running)
    response = client_for(world.grid_a).get(reverse("screening:tasks"))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('data-testid="task"') == len(FEVER_KINDS)
    assert "张三丰" in body
    assert "发热" in body
    assert running.name in body
    assert reverse("registry:person", args=[world.resident_a.pk]) in body
    assert 'data-testid="task-done"' in body


def test_the_task_list_is_empty_for_another_grid_and_masked_for_officials(
    world, town, running, grid2_worker, client, client_for
):
    fever(world, running)
    body = client_for(grid2_worker).get(reverse("screening:tasks")).content.decode()
    assert 'data-testid="task"' not in body
    assert "张三丰" not in body
    client.logout()
    body = client_for(world.street_officer).get(reverse("screening:tasks")).content.decode()
    assert body.count('data-testid="task"') == len(FEVER_KINDS)
    assert "张*丰" in body and "张三丰" not in body
    assert 'data-testid="task-done"' not in body  # officials see, screeners act


def test_the_task_list_filters_and_refuses_a_campaign_it_cannot_see(world, running, client_for):
    target = fever(world, running)
    followup_services.close_follow_up_task(
        task=tasks_of(target)["door_visit"], status="done", note="已上门", by=world.grid_a
    )
    client = client_for(world.grid_a)
    body = client.get(reverse("screening:tasks"), {"status": "done"}).content.decode()
    assert body.count('data-testid="task"') == 1
    assert "已上门" in body
    body = client.get(reverse("screening:tasks"), {"status": "all"}).content.decode()
    assert body.count('data-testid="task"') == 2
    body = client.get(reverse("screening:tasks"), {"kind": "need_help"}).content.decode()
    assert body.count('data-testid="task"') == 0
    assert client.get(reverse("screening:tasks"), {"campaign": 999_999}).status_code == 400


def test_the_task_list_runs_a_constant_number_of_queries(world, town, running, client_for):
    """No query per task (persons, tags, campaigns are loaded with the page)."""
    client = client_for(world.lead_a)
    fever(world, running)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("screening:tasks")).status_code == 200
    for n, person in enumerate([town.floating_head, town.no_phone, town.no_smartphone]):
        h5(target_of(running, person), f"more-{n}", temperature="39")
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("screening:tasks"))
    assert response.content.decode().count('data-testid="task"') == 4 * len(FEVER_KINDS)
    assert len(many) == len(few)


def test_marking_done_on_the_page_redirects_with_a_message(world, running, client_for):
    target = fever(world, running)
    door = tasks_of(target)["door_visit"]
    client = client_for(world.grid_a)
    response = client.post(
        reverse("screening:task_done", args=[door.pk]),
        {
            "status": "done",
            "note": "已上门",
            "next": reverse("screening:tasks") + "?kind=door_visit",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("screening:tasks") + "?kind=door_visit"
    door.refresh_from_db()
    assert (door.status, door.note, door.done_by) == (TaskStatus.DONE, "已上门", world.grid_a)
    assert AuditEvent.objects.filter(action=ScreeningAction.FOLLOW_UP_CLOSE, detail__task=door.pk)
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="task"' not in page  # no longer open


def test_a_bad_close_on_the_page_says_why_and_changes_nothing(world, running, client_for):
    target = fever(world, running)
    door = tasks_of(target)["door_visit"]
    client = client_for(world.grid_a)
    url = reverse("screening:task_done", args=[door.pk])
    response = client.post(url, {"status": "dismissed", "note": ""}, follow=True)
    assert "请说明为何无需跟进" in response.content.decode()
    response = client.post(url, {"status": "done", "next": "https://evil.example/"})
    assert response["Location"] == reverse("screening:tasks")  # never an outside redirect
    door.refresh_from_db()
    assert door.status == TaskStatus.DONE


@pytest.mark.parametrize(
    "persona,status", [("volunteer_a", 403), ("street_officer", 403), ("grid_b", 404)]
)
def test_closing_on_the_page_is_refused_outside_role_or_jurisdiction(
    world, running, client_for, persona, status
):
    target = fever(world, running)
    door = tasks_of(target)["door_visit"]
    response = client_for(getattr(world, persona)).post(
        reverse("screening:task_done", args=[door.pk]), {"status": "done", "note": "x"}
    )
    assert response.status_code == status
    door.refresh_from_db()
    assert door.status == TaskStatus.OPEN


def test_the_task_list_is_refused_to_volunteers(world, client_for):
    assert client_for(world.volunteer_a).get(reverse("screening:tasks")).status_code == 403


def test_closing_from_another_grid_is_not_found(world, town, running, grid2_worker, client_for):
    door = tasks_of(fever(world, running))["door_visit"]
    response = client_for(grid2_worker).post(
        reverse("screening:task_done", args=[door.pk]), {"status": "done"}
    )
    assert response.status_code == 404


# --- The flag on the person's file ------------------------------------------------------------


def test_the_persons_file_shows_the_flag_until_the_tasks_are_closed(world, running, client_for):
    target = fever(world, running)
    client = client_for(world.grid_a)
    url = reverse("registry:person", args=[world.resident_a.pk])
    body = client.get(url).content.decode()
    assert 'data-testid="risk-flag"' in body
    assert body.count('data-testid="flag"') == len(FEVER_KINDS)
    assert "发热" in body and running.name in body
    assert 'data-testid="person-screenings"' in body
    for task in tasks_of(target).values():
        response = client.post(
            reverse("screening:task_done", args=[task.pk]),
            {"status": "done", "note": "已处理", "next": url},
        )
        assert response["Location"] == url
    body = client.get(url).content.decode()
    assert 'data-testid="risk-flag"' not in body
    assert 'data-testid="flag"' not in body
    assert 'data-testid="person-screenings"' in body  # the campaign status stays


def test_the_file_of_a_person_never_screened_has_no_screening_section(world, client_for):
    newcomer = add_person(world.a.dwellings[2], "孙新来", 401, birth=date(1990, 1, 1))
    body = (
        client_for(world.grid_a)
        .get(reverse("registry:person", args=[newcomer.pk]))
        .content.decode()
    )
    assert 'data-testid="screening-section"' not in body


def test_officials_see_the_flag_but_no_close_button(world, running, client_for):
    fever(world, running)
    body = (
        client_for(world.street_officer)
        .get(reverse("registry:person", args=[world.resident_a.pk]))
        .content.decode()
    )
    assert 'data-testid="risk-flag"' in body
    assert 'data-testid="task-done"' not in body


def test_the_home_page_counts_the_grid_workers_open_tasks(world, running, client_for):
    fever(world, running)
    body = client_for(world.grid_a).get(reverse("reports:home")).content.decode()
    assert 'data-testid="open-tasks"' in body
    assert reverse("screening:tasks") in body
    body = client_for(world.grid_b).get(reverse("reports:home")).content.decode()
    assert 'data-testid="open-tasks"' not in body


# --- One card per person, closed in place (issue 12, item 7) ----------------------------------

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_a_risky_answer_makes_one_card_with_both_actions(world, running, client_for):
    """The fever rule raises a door visit and a health monitoring proposal: one card for the
    person, both actions ticked on it, one note and one pair of buttons."""
    target = fever(world, running)
    body = client_for(world.grid_a).get(reverse("screening:tasks")).content.decode()
    assert body.count('data-testid="task-card"') == 1
    assert body.count('data-testid="task"') == len(FEVER_KINDS)
    assert body.count('data-testid="task-done"') == 1
    for task in tasks_of(target).values():
        assert f'name="task" value="{task.pk}" checked' in body
    anchor = re.search(r'id="task-(\d+)" data-testid="task-card"', body).group(1)
    assert f'hx-post="{reverse("screening:task_done", args=[anchor])}"' in body


def test_closing_a_card_closes_every_ticked_action_with_one_note(world, running, client_for):
    target = fever(world, running)
    tasks = tasks_of(target)
    door, proposal = tasks["door_visit"], tasks["health_monitoring_proposal"]
    response = client_for(world.grid_a).post(
        reverse("screening:task_done", args=[door.pk]),
        {"card": "1", "task": [door.pk, proposal.pk], "status": "done", "note": "已上门，已建议"},
        **HTMX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('data-testid="task-card"') == 1 and "<html" not in body
    assert body.count('data-testid="task-confirmation"') == 1
    for task in (door, proposal):
        task.refresh_from_db()
        assert (task.status, task.note) == (TaskStatus.DONE, "已上门，已建议")
    assert 'data-testid="task-done"' not in body  # nothing left to close on this card


def test_an_unticked_action_stays_open(world, running, client_for):
    target = fever(world, running)
    tasks = tasks_of(target)
    door, proposal = tasks["door_visit"], tasks["health_monitoring_proposal"]
    body = (
        client_for(world.grid_a)
        .post(
            reverse("screening:task_done", args=[door.pk]),
            {"card": "1", "task": [door.pk], "status": "done", "note": ""},
            **HTMX,
        )
        .content.decode()
    )
    door.refresh_from_db()
    proposal.refresh_from_db()
    assert (door.status, proposal.status) == (TaskStatus.DONE, TaskStatus.OPEN)
    assert f'name="task" value="{proposal.pk}" checked' in body  # still closable on the card


def test_an_error_comes_back_inside_the_card_once(world, running, client_for):
    """Dismissing without a note: the card alone comes back (htmx swaps it in place, the
    phone keeps its place), the reason shown once, nothing closed."""
    target = fever(world, running)
    door = tasks_of(target)["door_visit"]
    client = client_for(world.grid_a)
    url = reverse("screening:task_done", args=[door.pk])
    ids = [task.pk for task in tasks_of(target).values()]
    response = client.post(url, {"card": "1", "task": ids, "status": "dismissed"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200  # htmx swaps 2xx answers only
    assert body.count("请说明为何无需跟进") == 1
    assert f'id="task-{door.pk}"' in body
    assert all(task.status == TaskStatus.OPEN for task in tasks_of(target).values())
    # Nothing was left in the session to show a second time on the next page.
    page = client.get(reverse("screening:tasks")).content.decode()
    assert "请说明为何无需跟进" not in page
    body = client.post(url, {"card": "1", "status": "done"}, **HTMX).content.decode()
    assert body.count("请至少勾选一项跟进") == 1


def test_without_javascript_the_card_comes_back_at_its_anchor(world, running, client_for):
    target = fever(world, running)
    door = tasks_of(target)["door_visit"]
    client = client_for(world.grid_a)
    page = client.get(reverse("screening:tasks") + "?kind=door_visit").content.decode()
    back = reverse("screening:tasks") + f"?kind=door_visit#task-{door.pk}"
    assert f'name="next" value="{back}"' in page
    response = client.post(
        reverse("screening:task_done", args=[door.pk]),
        {"card": "1", "task": [door.pk], "status": "dismissed", "next": back},
    )
    assert response["Location"] == back
    assert "请说明为何无需跟进" in client.get(back).content.decode()


def test_a_card_cannot_close_another_persons_task(world, running, client_for):
    """The ticked ids must be the card's person's tasks, even another one of the same grid."""
    door = tasks_of(fever(world, running))["door_visit"]
    h5(target_of(running, world.resident_a2), "other-1", temperature="39")
    other = FollowUpTask.objects.exclude(person=world.resident_a).first()
    response = client_for(world.grid_a).post(
        reverse("screening:task_done", args=[door.pk]),
        {"card": "1", "task": [door.pk, other.pk], "status": "done", "note": "x"},
    )
    assert response.status_code == 404
    door.refresh_from_db()
    other.refresh_from_db()
    assert door.status == other.status == TaskStatus.OPEN


def test_a_full_page_of_cards_stays_under_100_kb(world, running, client_for, settings):
    """The worst case for weight: a page of cards of one action each, every card with its
    close form, on a grid worker's phone."""
    for n in range(settings.LINLI_PAGE_SIZE):
        person = add_person(world.a.dwellings[n % len(world.a.dwellings)], f"居民{n}", 500 + n)
        running.targets.get_or_create(
            person=person, defaults={"area_path": person.area_path, "household": person.household}
        )
    for target in running.targets.all():
        FollowUpTask.objects.create(
            campaign=running,
            target=target,
            person=target.person,
            area_path=target.area_path,
            kind="door_visit",
            risk_level="high",
            reasons=["发热（体温≥37.3℃）"],
        )
    body = client_for(world.grid_a).get(reverse("screening:tasks")).content
    assert body.decode().count('data-testid="task-card"') == settings.LINLI_PAGE_SIZE
    assert len(body) < 100_000, len(body)
