"""The robot's controls are audited: who started, resumed, paused or configured it, from where,
and the do-not-call list's changes, never with the number in the log."""

import pytest

from linli.audit.models import AuditEvent
from linli.core.actors import AuditContext
from linli.voice.models import VoiceAction
from linli.voice.services import do_not_call as do_not_call_services
from linli.voice.services import robots as robot_services
from linli.voice.tests.audit_expectations import NUMBER, RESUME, _phone_campaign


@pytest.mark.django_db
def test_a_resumed_robot_records_robot_resume(world):
    """The first start records robot_start; a start after a pause records robot_resume."""
    action, exercise = RESUME
    exercise(world)
    actions = list(
        AuditEvent.objects.filter(object_type="screening_campaign", action__startswith="robot_")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [VoiceAction.ROBOT_START, VoiceAction.ROBOT_PAUSE, action]


@pytest.mark.django_db
def test_robot_events_name_the_campaign_actor_and_request(world):
    """Each event names the campaign, its area, the actor and the request's address."""
    campaign = _phone_campaign(world)
    context = AuditContext(ip_address="10.1.2.3", user_agent="pytest")
    robot_services.start_robot(campaign=campaign, by=world.lead_a, context=context)
    event = AuditEvent.objects.get(action=VoiceAction.ROBOT_START)
    assert (event.object_id, event.area_path) == (str(campaign.pk), campaign.area_path)
    assert event.actor == world.lead_a and event.ip_address == "10.1.2.3"
    assert event.detail["queued"] >= 0


@pytest.mark.django_db
def test_do_not_call_changes_are_audited_without_the_number(world):
    """Adding and removing a number is logged by the entry, never by the number."""
    do_not_call_services.add_do_not_call(number=NUMBER, by=world.lead_a, reason="asked")
    assert do_not_call_services.remove_do_not_call(number=NUMBER, by=world.lead_a)
    assert not do_not_call_services.remove_do_not_call(number=NUMBER, by=world.lead_a)
    events = AuditEvent.objects.filter(object_type="do_not_call").order_by("id")
    assert [e.action for e in events] == [
        VoiceAction.DO_NOT_CALL_ADD,
        VoiceAction.DO_NOT_CALL_REMOVE,
    ]
    for event in events:
        assert NUMBER not in f"{event.object_label}{event.detail}"
