"""Contact attempts: idempotency, answer-by-answer saving, status, risk and escalation."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from linli.audit.models import AuditEvent
from linli.screening import channels
from linli.screening.models import (
    CampaignTarget,
    ContactAttempt,
    DoorKnockReason,
    ScreeningAction,
    TargetStatus,
)
from linli.screening.questionnaires.answers import InvalidAnswers
from linli.screening.services import attempts as attempt_services
from linli.screening.services import campaigns as campaign_services
from linli.screening.tasks import escalate_campaigns
from linli.screening.tests.builders import arrivals_for, draft


def target_of(campaign, person) -> CampaignTarget:
    return CampaignTarget.objects.get(campaign=campaign, person=person)


def h5(target, key: str, **answers):
    return attempt_services.record_attempt(
        target=target, channel="h5", outcome="answered", answers=answers, idempotency_key=key
    )


# --- Idempotency ------------------------------------------------------------------------------


def test_the_same_key_twice_stores_one_attempt_and_changes_nothing(world, running):
    """A retry (same key) finds the first attempt; with other answers the first one stands,
    and a caller that asks for it (the H5 page) hears of the difference
    (KeyReusedWithOtherAnswers)."""
    target = target_of(running, world.resident_a)
    first = h5(target, "k-1", temperature="36.6")
    assert first.created
    again = h5(target, "k-1", temperature="36.6")
    assert not again.created
    assert again.attempt.pk == first.attempt.pk
    assert again.target.answers == {"temperature": 36.6}
    kept = h5(target, "k-1", temperature="39.0")  # the robot's case: the first one stands
    assert not kept.created
    with pytest.raises(attempt_services.KeyReusedWithOtherAnswers) as caught:
        attempt_services.record_attempt(
            target=target,
            channel="h5",
            outcome="answered",
            answers={"temperature": "39.0"},
            idempotency_key="k-1",
            refuse_changed_retry=True,
        )
    assert "idempotency_key" in caught.value.message_dict
    target.refresh_from_db()
    assert ContactAttempt.objects.filter(target=target).count() == 1
    assert target.attempt_count == 1
    assert target.answers == {"temperature": 36.6}
    assert target.risk_level == "none"


def test_a_key_used_for_another_person_is_refused(world, running):
    h5(target_of(running, world.resident_a), "k-shared", temperature="36.6")
    with pytest.raises(ValidationError) as caught:
        h5(target_of(running, world.resident_a2), "k-shared", temperature="36.6")
    assert "idempotency_key" in caught.value.message_dict
    assert target_of(running, world.resident_a2).answers == {}


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_submission_store_one_attempt(world, running):
    """Two requests with the same key at the same moment (a retry racing its original):
    one attempt, one count. PostgreSQL only: SQLite serialises writers anyway."""
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections")
    target = target_of(running, world.resident_a)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def submit():
        try:
            barrier.wait()
            results.append(h5(target, "k-race", temperature="36.6", symptoms=["none"]).created)
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [False, False, False, True]
    target.refresh_from_db()
    assert target.attempt_count == 1
    assert ContactAttempt.objects.filter(idempotency_key="k-race").count() == 1


# --- Answer by answer -------------------------------------------------------------------------


def test_answers_saved_one_by_one_merge_with_their_provenance(world, running):
    """Each save adds its question; the next question and completeness follow; a dropped
    connection loses nothing already saved; saves may arrive out of order."""
    target = target_of(running, world.resident_a)
    step = h5(target, "s-1", temperature="36.5")
    assert (step.next_question, step.complete) == ("symptoms", False)
    # The save for question 3 overtakes the one for question 2.
    step = h5(target, "s-3", contact_confirmed="否")
    assert step.next_question == "symptoms"
    step = h5(target, "s-2", symptoms=["none"])
    assert step.next_question == "tested_today"
    step = h5(target, "s-4", tested_today="done", medication_needs=False)
    assert step.next_question == "needs_help"
    step = h5(target, "s-5", needs_help=False)
    assert (step.next_question, step.complete) == (None, True)
    target.refresh_from_db()
    assert target.answers == {
        "temperature": 36.5,
        "symptoms": ["none"],
        "contact_confirmed": False,
        "tested_today": "done",
        "medication_needs": False,
        "needs_help": False,
    }
    assert target.status == TargetStatus.REACHED
    assert target.reached_at is not None and target.answered_via == "h5"
    assert target.attempt_count == 5
    source = target.answer_sources["symptoms"]
    attempt = ContactAttempt.objects.get(idempotency_key="s-2")
    assert source["attempt"] == attempt.pk and source["channel"] == "h5"
    assert attempt.answers == {"symptoms": ["none"]}


def test_a_corrected_answer_re_evaluates_risk(world, running):
    target = target_of(running, world.resident_a)
    assert h5(target, "t-1", temperature="38.1").target.risk_level == "high"
    result = h5(target, "t-2", temperature="36.9")
    assert result.target.risk_level == "none"
    assert result.target.follow_ups == []


def test_invalid_answers_are_refused_at_the_key_and_nothing_is_stored(world, running):
    target = target_of(running, world.resident_a)
    with pytest.raises(InvalidAnswers) as caught:
        h5(target, "bad-1", temperature="99", symptoms=["fever"])
    assert set(caught.value.answer_errors) == {"temperature"}
    message = caught.value.message_dict["temperature"][0]
    assert "34" in message and "43" in message
    target.refresh_from_db()
    assert (target.answers, target.attempt_count) == ({}, 0)
    assert not ContactAttempt.objects.filter(idempotency_key="bad-1").exists()


def test_a_family_member_answering_is_recorded_as_proxy(world, running):
    target = target_of(running, world.resident_a2)
    result = attempt_services.record_attempt(
        target=target,
        channel="h5",
        outcome="answered",
        answers={"temperature": "36.4"},
        by_proxy=True,
        idempotency_key="proxy-1",
    )
    assert result.target.answered_by_proxy
    assert result.target.answer_sources["temperature"]["proxy"] is True


# --- Status after outcomes --------------------------------------------------------------------


def test_outcomes_without_answers_move_the_status(world, running):
    target = target_of(running, world.resident_a)
    phone = channels.get_channel("phone")
    assert phone.collect(target=target, outcome="no_answer").target.status == "no_answer"
    assert phone.collect(target=target, outcome="wrong_number").target.status == "unreachable"
    with pytest.raises(ValidationError):
        phone.collect(target=target, outcome="no_answer", answers={"temperature": "36.5"})
    with pytest.raises(ValidationError):
        channels.get_channel("h5").collect(target=target, outcome="not_at_home")
    # Once reached, a later unanswered call changes nothing.
    h5(target, "r-1", temperature="36.5")
    assert phone.collect(target=target, outcome="busy").target.status == "reached"


def test_a_hang_up_after_some_answers_reached_the_person(world, running):
    target = target_of(running, world.resident_a)
    result = channels.get_channel("phone").collect(
        target=target, outcome="hung_up", answers={"temperature": "37.8"}
    )
    assert result.target.status == TargetStatus.REACHED
    assert result.target.risk_level == "high"
    assert result.target.answered_via == "phone"


def test_saying_you_need_help_puts_you_on_the_door_knock_list_until_a_visit(world, running):
    target = target_of(running, world.resident_a)
    result = h5(target, "help-1", temperature="36.5", medication_needs=True)
    assert result.target.status == TargetStatus.NEEDS_DOOR_KNOCK
    assert result.target.door_knock_reason == DoorKnockReason.NEED_HELP
    assert result.target.reached_at is not None
    # More answers through H5 keep them on the list.
    assert h5(target, "help-2", symptoms=["none"]).target.status == "needs_door_knock"
    visit = channels.get_channel("door_knock").collect(
        target=target, outcome="answered", by=world.grid_a, answers={"needs_help": True}
    )
    assert visit.target.status == TargetStatus.REACHED
    assert visit.target.door_knocked_at is not None
    assert campaign_services.escalate_unreached(campaign=running) == 0
    target.refresh_from_db()
    assert target.status == TargetStatus.REACHED


def test_a_worker_recording_an_attempt_is_audited_without_the_answers(world, running):
    target = target_of(running, world.resident_a)
    channels.get_channel("door_knock").collect(
        target=target, outcome="answered", by=world.grid_a, answers={"temperature": "38.5"}
    )
    event = AuditEvent.objects.get(action=ScreeningAction.SCREENING_ANSWER)
    assert event.actor == world.grid_a
    assert event.object_id == str(world.resident_a.pk)
    assert event.area_path == world.resident_a.area_path
    assert event.detail["questions"] == ["temperature"]
    assert "38.5" not in str(event.detail)
    # A resident's own H5 answer is not a worker writing someone's data: no event.
    h5(target_of(running, world.resident_a2), "self-1", temperature="36.5")
    assert AuditEvent.objects.filter(action=ScreeningAction.SCREENING_ANSWER).count() == 1


def test_workers_record_only_inside_their_area(world, running):
    target = target_of(running, world.resident_a)
    with pytest.raises(PermissionDenied):
        channels.get_channel("door_knock").collect(
            target=target, outcome="not_at_home", by=world.grid_b
        )
    with pytest.raises(PermissionDenied):
        channels.get_channel("door_knock").collect(
            target=target, outcome="not_at_home", by=world.volunteer_a
        )


def test_a_closed_campaign_takes_no_attempts(world, running):
    campaign_services.close_campaign(campaign=running, by=world.lead_a)
    with pytest.raises(ValidationError):
        h5(target_of(running, world.resident_a), "late-1", temperature="36.5")


# --- Escalation -------------------------------------------------------------------------------


def test_escalation_after_the_deadline_sends_the_unreached_to_the_door_once(world, town):
    """Before the deadline only the wrong number is escalated; after it every unreached
    target is, once: a refusal at the door is not sent back, a reached person never."""
    campaign = campaign_services.launch_campaign(
        campaign=draft(
            world,
            arrivals_for(world),
            channels=["h5", "phone", "door_knock"],
            deadline=timezone.now() + timedelta(hours=12),
        ),
        by=world.lead_a,
    )
    phone = channels.get_channel("phone")
    phone.collect(target=target_of(campaign, world.resident_a), outcome="no_answer")
    phone.collect(target=target_of(campaign, town.floating_head), outcome="wrong_number")
    h5(target_of(campaign, town.floating_child), "fc-1", arrived_recently="是")
    # 赵大爷 has no phone: already on the list since launch.
    assert target_of(campaign, town.no_phone).door_knock_reason == DoorKnockReason.NO_PHONE

    assert campaign_services.escalate_unreached(campaign=campaign) == 1
    assert target_of(campaign, town.floating_head).door_knock_reason == "unreachable"

    after = campaign.deadline + timedelta(minutes=1)
    # Left: 张三丰 (no answer), 李秀英 and 钱阿姨 (pending).
    assert campaign_services.escalate_unreached(campaign=campaign, now=after) == 3
    door = CampaignTarget.objects.filter(campaign=campaign, status="needs_door_knock")
    assert set(door.values_list("person_id", flat=True)) == {
        world.resident_a.pk,
        world.resident_a2.pk,
        town.no_smartphone.pk,
        town.floating_head.pk,
        town.no_phone.pk,
    }
    assert target_of(campaign, world.resident_a).door_knock_reason == DoorKnockReason.DEADLINE
    assert target_of(campaign, town.floating_child).status == TargetStatus.REACHED

    channels.get_channel("door_knock").collect(
        target=target_of(campaign, world.resident_a), outcome="refused", by=world.grid_a
    )
    assert campaign_services.escalate_unreached(campaign=campaign, now=after) == 0
    assert target_of(campaign, world.resident_a).status == TargetStatus.REFUSED


def test_escalation_catches_need_help_answers_and_leaves_closed_campaigns(world, running):
    target = target_of(running, world.resident_a)
    h5(target, "n-1", needs_help=False)
    # Simulate an answer recorded before the flag existed (e.g. an import of paper forms).
    CampaignTarget.objects.filter(pk=target.pk).update(needs_help=True)
    assert campaign_services.escalate_unreached(campaign=running) == 1
    target.refresh_from_db()
    assert (target.status, target.door_knock_reason) == ("needs_door_knock", "need_help")
    campaign_services.close_campaign(campaign=running, by=world.lead_a)
    CampaignTarget.objects.filter(pk=target.pk).update(status="reached")
    assert campaign_services.escalate_unreached(campaign=running) == 0


def test_a_door_knock_needs_a_worker(world, running):
    with pytest.raises(ValidationError) as caught:
        channels.get_channel("door_knock").collect(
            target=target_of(running, world.resident_a), outcome="not_at_home"
        )
    assert "by" in caught.value.message_dict


def test_the_periodic_task_escalates_every_running_campaign(world, running):
    """The task (inline in tests) runs escalation over running campaigns and reports counts."""

    channels.get_channel("phone").collect(
        target=target_of(running, world.resident_a), outcome="wrong_number"
    )
    result = escalate_campaigns.enqueue()
    assert result.return_value == {str(running.pk): 1}
    assert target_of(running, world.resident_a).status == TargetStatus.NEEDS_DOOR_KNOCK
