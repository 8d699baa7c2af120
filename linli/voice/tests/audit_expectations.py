"""Which phone-robot services record which audit action (tests/test_audit_coverage.py).

The robot's controls and the do-not-call list are a person's decisions: audited. The dialer's
steps on a call job (claim, journal, finish, recovery, sweep) are the machine's own
bookkeeping, thousands an hour; what a call produced is recorded as the screening attempt
(ContactAttempt, keyed by its call id), which is where a call is traced.
"""

from datetime import time, timedelta

from django.utils import timezone

from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.voice.models import Line, OutageReason, VoiceAction
from linli.voice.services import do_not_call as do_not_call_services
from linli.voice.services import lines as line_services
from linli.voice.services import robots as robot_services

NUMBER = "13900001111"


def _phone_campaign(world):
    """A running campaign over community A that uses the phone robot (as test_robot_pages)."""
    questionnaire = questionnaire_services.create_questionnaire(
        name="每日健康监测", area=world.a.community, by=world.lead_a, from_template="daily_symptoms"
    )
    campaign = campaign_services.create_campaign(
        name="每日健康监测",
        questionnaire_version=questionnaire_selectors.latest_version(questionnaire),
        area=world.a.community,
        by=world.lead_a,
        channels=["phone", "door_knock"],
    )
    campaign_services.launch_campaign(campaign=campaign, by=world.lead_a)
    return campaign


def _start(world):
    robot_services.start_robot(campaign=_phone_campaign(world), by=world.lead_a)


def _resume(world):
    campaign = _phone_campaign(world)
    robot_services.start_robot(campaign=campaign, by=world.lead_a)
    robot_services.pause_robot(campaign=campaign, by=world.lead_a)
    robot_services.start_robot(campaign=campaign, by=world.lead_a)


def _pause(world):
    robot_services.pause_robot(campaign=_phone_campaign(world), by=world.lead_a)


def _configure(world):
    robot_services.configure_robot(
        campaign=_phone_campaign(world),
        by=world.lead_a,
        calling_start=time(9, 0),
        calling_end=time(20, 0),
        retry_rules={"no_answer": {"max": 2, "after_minutes": 30}},
    )


def _add(world):
    do_not_call_services.add_do_not_call(
        number=NUMBER, by=world.lead_a, reason="asked not to be called"
    )


def _remove(world):
    do_not_call_services.add_do_not_call(number=NUMBER, by=world.lead_a)
    do_not_call_services.remove_do_not_call(number=NUMBER, by=world.lead_a)


def _outage(world):
    line = Line.objects.create(name="outage", carrier="sip", settings={"host": "127.0.0.1"})
    now = timezone.now()
    line_services.report_line_outage(
        line_id=line.pk,
        reason=OutageReason.SERVER_ERROR,
        failures=5,
        until=now + timedelta(minutes=1),
        dialer="dialer-1",
        now=now,
    )
    return line


def _outage_cleared(world):
    line = _outage(world)
    line_services.clear_line_outage(line_id=line.pk, dialer="dialer-1")


AUDITED = {
    # start_robot records robot_start the first time and robot_resume after a pause.
    "start_robot": (VoiceAction.ROBOT_START, _start),
    "pause_robot": (VoiceAction.ROBOT_PAUSE, _pause),
    "configure_robot": (VoiceAction.ROBOT_SETTINGS, _configure),
    "add_do_not_call": (VoiceAction.DO_NOT_CALL_ADD, _add),
    "remove_do_not_call": (VoiceAction.DO_NOT_CALL_REMOVE, _remove),
    # The dialer's alarm and its all-clear: a line stopped and resumed, for the leads.
    "report_line_outage": (VoiceAction.LINE_OUTAGE, _outage),
    "clear_line_outage": (VoiceAction.LINE_RESUMED, _outage_cleared),
}

# start_robot's second action, robot_resume (the walk runs one action per service):
# linli/voice/tests/test_robot_audit.py runs this one.
RESUME = (VoiceAction.ROBOT_RESUME, _resume)

_DIALER_STEP = (
    "the dialer's bookkeeping on a call job, not a person's decision; the call's result is "
    "the screening attempt it records"
)

NOT_AUDITED = {
    "dialable": "pure helper: builds a query filter",
    "call_id_for": "pure helper: formats a call id",
    "phone_hash": "pure helper: hashes a number",
    "clean_retry_rules": "pure helper: validates rules (configure_robot audits the change)",
    "next_step": "pure helper: computes a job's next state",
    "robot_of": (
        "creates a campaign's robot paused with the defaults on first look; starting and "
        "configuring it are audited"
    ),
    "enqueue_calls": "queues the calls of a robot start, which records robot_start or robot_resume",
    "queue_call": (
        "the robot channel's dispatch of one target (a queue entry); the attempt is recorded "
        "by screening"
    ),
    "claim_jobs": _DIALER_STEP,
    "mark_in_call": _DIALER_STEP,
    "extend_leases": _DIALER_STEP,
    "journal_calls": _DIALER_STEP,
    "save_answer": _DIALER_STEP,
    "finish_call": _DIALER_STEP,
    "finish_calls": _DIALER_STEP,
    "recover_expired": _DIALER_STEP + " (marked recovered in its detail)",
    "sweep_jobs": _DIALER_STEP,
    "release_jobs": _DIALER_STEP,
    "seal_dialog": "pure helper: encrypts a SIP dialog for its job",
    "open_dialog": "pure helper: decrypts a SIP dialog",
    "upcoming_calls": "reads the calls due next, whose identity prompts are made ahead",
}
