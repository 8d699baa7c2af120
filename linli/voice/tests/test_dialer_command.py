"""`linli dialer` end to end on a small demo street: a phone campaign whose robot is started,
the command run once over a simulated line (on a virtual clock, so a morning of calls takes
seconds), and every due call placed, recorded as an attempt and shown in the progress line."""

from datetime import datetime, time, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from linli.accounts.models import User
from linli.demo import generator
from linli.screening.models import CampaignTarget, ContactAttempt
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.voice.models import CallJob, JobState, Line
from linli.voice.services import robots as robot_services

SMALL = generator.DemoShape(
    communities=1, grids_per_community=1, compounds_per_grid=1, dwellings_per_compound=6
)


def tomorrow_at(hour: int) -> datetime:
    day = timezone.localdate() + timedelta(days=1)
    return datetime.combine(day, time(hour))


@pytest.fixture
def phone_campaign(db):
    generator.generate_demo(seed=11, shape=SMALL, screening=False)
    lead = User.objects.get(username="lead1")
    community = lead.areas.get()
    questionnaire = questionnaire_services.create_questionnaire(
        name="每日健康监测", area=community, by=lead, from_template="daily_symptoms"
    )
    campaign = campaign_services.create_campaign(
        name="每日健康监测（电话）",
        questionnaire_version=questionnaire_selectors.latest_version(questionnaire),
        area=community,
        by=lead,
        channels=["phone", "door_knock"],
    )
    campaign_services.launch_campaign(campaign=campaign, by=lead)
    robot_services.start_robot(campaign=campaign, by=lead)
    return campaign


@pytest.mark.django_db
def test_dialer_once_calls_every_due_job_and_prints_progress(phone_campaign):
    jobs = CallJob.objects.filter(campaign=phone_campaign)
    queued = jobs.count()
    assert queued > 0
    Line.objects.create(
        name="demo",
        carrier="simulated",
        max_concurrent=5,
        calls_per_second=2.0,
        settings={"rates": {"answer": 1.0, "no_answer": 0, "busy": 0, "wrong_number": 0}},
    )
    out = StringIO()
    start = tomorrow_at(9).isoformat(timespec="minutes")
    call_command(
        "dialer", "--once", "--simulated", f"--virtual-time={start}", "--progress=30", stdout=out
    )
    text = out.getvalue()
    assert "dialer " in text and "demo (simulated)" in text
    last = text.strip().splitlines()[-1]
    assert last.startswith("stopped: calls in progress 0")
    assert f"placed {queued} · answered {queued} · finished {queued}" in last
    # Every job was called once and its attempt recorded through the robot's channel.
    attempts = ContactAttempt.objects.filter(campaign=phone_campaign, channel="phone")
    assert attempts.count() == queued
    assert not jobs.filter(state__in=[JobState.QUEUED, JobState.DIALLING, JobState.IN_CALL])
    assert CampaignTarget.objects.filter(campaign=phone_campaign).exclude(answers={}).exists()


@pytest.mark.django_db
def test_dialer_creates_a_simulated_line_and_refuses_virtual_time_on_real_lines(
    phone_campaign,
):
    out = StringIO()
    call_command(
        "dialer",
        "--once",
        "--simulated",
        f"--virtual-time={tomorrow_at(23).isoformat()}",
        stdout=out,
    )
    # Outside the calling hours nothing is dialled, and the command still ends.
    assert Line.objects.filter(name="simulated", carrier="simulated").exists()
    assert "placed 0" in out.getvalue().strip().splitlines()[-1]
    assert not ContactAttempt.objects.filter(campaign=phone_campaign).exists()
    with pytest.raises(CommandError):
        call_command("dialer", "--once", "--virtual-time", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("dialer", "--once", "--simulated", "--virtual-time=tomorrow", stdout=out)
