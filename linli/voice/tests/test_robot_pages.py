"""The robot page of a campaign: controls, settings, live figures, and who may see it."""

import pytest
from django.urls import reverse

from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.voice.models import CallJob, JobState, Line, Robot, RobotStatus


def campaign_over(world, area, lead, *, channels=("phone", "door_knock")):
    questionnaire = questionnaire_services.create_questionnaire(
        name="每日健康监测", area=area, by=lead, from_template="daily_symptoms"
    )
    campaign = campaign_services.create_campaign(
        name="每日健康监测",
        questionnaire_version=questionnaire_selectors.latest_version(questionnaire),
        area=area,
        by=lead,
        channels=list(channels),
    )
    campaign_services.launch_campaign(campaign=campaign, by=lead)
    return campaign


@pytest.fixture
def campaign(world):
    Line.objects.create(name="中继一", carrier="simulated", max_concurrent=30, calls_per_second=5)
    return campaign_over(world, world.a.community, world.lead_a)


@pytest.mark.django_db
def test_lead_starts_pauses_and_resumes_the_robot(world, campaign, client_for):
    client = client_for(world.lead_a)
    page = client.get(reverse("voice:campaign", args=[campaign.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-testid="robot-start"' in body and "中继一" in body
    assert f'hx-get="{reverse("voice:live", args=[campaign.pk])}"' in body

    response = client.post(reverse("voice:start", args=[campaign.pk]))
    assert response.status_code == 302
    robot = Robot.objects.get(campaign=campaign)
    assert robot.status == RobotStatus.RUNNING
    assert CallJob.objects.filter(campaign=campaign, state=JobState.QUEUED).count() == 2

    body = client.get(reverse("voice:campaign", args=[campaign.pk])).content.decode()
    assert 'data-testid="robot-pause"' in body

    client.post(reverse("voice:pause", args=[campaign.pk]))
    robot.refresh_from_db()
    assert robot.status == RobotStatus.PAUSED and robot.paused_at is not None
    body = client.get(reverse("voice:campaign", args=[campaign.pk])).content.decode()
    assert "Resume the robot" in body or "恢复" in body

    client.post(reverse("voice:start", args=[campaign.pk]))
    robot.refresh_from_db()
    assert robot.status == RobotStatus.RUNNING
    assert CallJob.objects.filter(campaign=campaign).count() == 2  # nobody queued twice


@pytest.mark.django_db
def test_live_figures_count_jobs_by_state(world, campaign, client_for):
    client = client_for(world.lead_a)
    client.post(reverse("voice:start", args=[campaign.pk]))
    job = CallJob.objects.filter(campaign=campaign).first()
    CallJob.objects.filter(pk=job.pk).update(
        state=JobState.IN_CALL, line=Line.objects.get(), call_id="r1-1"
    )
    response = client.get(reverse("voice:live", args=[campaign.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="robot-in-call">1<' in body
    assert "1 / 30" in body  # the line in use
    assert "<progress" in body and "张三丰" not in body and "13812345678" not in body


@pytest.mark.django_db
def test_settings_are_saved_and_bad_hours_refused(world, campaign, client_for):
    client = client_for(world.lead_a)
    data = {
        "calling_start": "09:00",
        "calling_end": "20:00",
        "line": "",
        "no_answer_max": 4,
        "no_answer_after": 45,
        "busy_max": 2,
        "busy_after": 5,
        "failed_max": 1,
        "failed_after": 15,
        "hung_up_max": 0,
        "hung_up_after": 60,
    }
    response = client.post(reverse("voice:settings", args=[campaign.pk]), data)
    assert response.status_code == 302
    robot = Robot.objects.get(campaign=campaign)
    assert robot.calling_start.hour == 9 and robot.calling_end.hour == 20
    assert robot.retry_rules["no_answer"] == {"max": 4, "after_minutes": 45.0}
    assert robot.retry_rules["hung_up"]["max"] == 0

    bad = {**data, "calling_start": "22:00", "calling_end": "07:00"}
    response = client.post(reverse("voice:settings", args=[campaign.pk]), bad)
    assert response.status_code == 400
    robot.refresh_from_db()
    assert robot.calling_start.hour == 9  # nothing half-written


@pytest.mark.django_db
def test_campaign_page_links_to_the_robot(world, campaign, client_for):
    body = (
        client_for(world.lead_a)
        .get(reverse("screening:campaign", args=[campaign.pk]))
        .content.decode()
    )
    assert reverse("voice:campaign", args=[campaign.pk]) in body


@pytest.mark.django_db
def test_grid_worker_gets_403(world, campaign, client_for):
    client = client_for(world.grid_a)
    assert client.get(reverse("voice:campaign", args=[campaign.pk])).status_code == 403
    assert client.post(reverse("voice:start", args=[campaign.pk])).status_code == 403
    assert not Robot.objects.filter(campaign=campaign, status=RobotStatus.RUNNING).exists()


@pytest.mark.django_db
def test_campaign_outside_jurisdiction_is_404(world, campaign, client_for):
    from linli.core.roles import Role
    from linli.demo import factories as f

    lead_b = f.make_staff(username="lead_b", role=Role.COMMUNITY_LEAD, areas=[world.b.community])
    campaign_b = campaign_over(world, world.b.community, lead_b)
    client = client_for(world.lead_a)
    for name in ("voice:campaign", "voice:live"):
        assert client.get(reverse(name, args=[campaign_b.pk])).status_code == 404
    for name in ("voice:start", "voice:pause", "voice:settings"):
        assert client.post(reverse(name, args=[campaign_b.pk])).status_code == 404
    assert not Robot.objects.filter(campaign=campaign_b).exists()


@pytest.mark.django_db
def test_campaign_without_the_phone_channel_says_so(world, client_for):
    campaign = campaign_over(world, world.a.community, world.lead_a, channels=("h5",))
    client = client_for(world.lead_a)
    body = client.get(reverse("voice:campaign", args=[campaign.pk])).content.decode()
    assert 'data-testid="robot-unused"' in body
    client.post(reverse("voice:start", args=[campaign.pk]))
    assert not CallJob.objects.filter(campaign=campaign).exists()
