"""The demo's screening step: a running daily campaign in community 1, answered through the
screening services, and a draft arrivals campaign in community 2; reset removes them."""

from datetime import datetime, time, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from linli.accounts.models import User
from linli.areas.models import Area, AreaLevel
from linli.audit.models import AuditAction, AuditEvent
from linli.audit.services import record_event
from linli.core.roles import Role
from linli.demo import generator
from linli.registry.models import Person, Residency
from linli.screening.models import (
    AttemptOutcome,
    Campaign,
    CampaignStatus,
    CampaignTarget,
    ChannelCode,
    ContactAttempt,
    FollowUpTask,
    Questionnaire,
    QuestionnaireVersion,
    ScreeningAction,
    TargetStatus,
    TaskStatus,
)
from linli.screening.questionnaires.schema import FollowUp, RiskLevel
from linli.screening.selectors import campaigns as campaign_selectors
from linli.screening.selectors import coverage as coverage_selectors
from linli.screening.selectors import door_knocks as door_knock_selectors

# Community 1 holds a few hundred people: enough for fevers, proxies and refusals to occur.
SHAPE = generator.DemoShape(
    communities=2, grids_per_community=2, compounds_per_grid=1, dwellings_per_compound=100
)


def afternoon() -> datetime:
    """Today at 15:00 local: the campaign launched at 07:30 has a day's work behind it."""
    return timezone.make_aware(datetime.combine(timezone.localdate(), time(15, 0)))


@pytest.fixture
def demo(db) -> generator.DemoSummary:
    return generator.generate_demo(seed=11, shape=SHAPE, now=afternoon())


def communities() -> list[Area]:
    return list(Area.objects.filter(level=AreaLevel.COMMUNITY).order_by("path"))


def running() -> Campaign:
    return Campaign.objects.get(status=CampaignStatus.RUNNING)


def test_a_daily_campaign_runs_over_community_1_since_this_morning(demo):
    campaign = running()
    community = communities()[0]
    now = afternoon()
    assert campaign.name == "每日健康监测"
    assert campaign.area == community
    assert campaign.created_by.username == "lead1"
    assert campaign.channels == [ChannelCode.H5, ChannelCode.DOOR_KNOCK]
    assert campaign.questionnaire_version.questionnaire.template == "daily_symptoms"
    assert campaign.questionnaire_version.is_frozen
    launched = timezone.localtime(campaign.launched_at)
    assert launched.date() == timezone.localdate(now) and launched.hour < 12
    deadline = timezone.localtime(campaign.deadline)
    assert deadline.date() == timezone.localdate(now) + timedelta(days=1)
    assert deadline.time() == time(20, 0)
    # Everyone living in community 1 is a target.
    people = Person.objects.filter(area_path__startswith=community.path, merged_into=None)
    assert campaign.target_count == people.count() > 0
    # Both questionnaire templates belong to community 1 and its lead.
    templates = Questionnaire.objects.filter(area=community)
    assert sorted(templates.values_list("template", flat=True)) == ["arrivals", "daily_symptoms"]
    assert {q.created_by.username for q in templates} == {"lead1"}
    assert demo.screening.targets == campaign.target_count


def test_more_than_half_answered_through_h5_over_the_morning(demo):
    campaign = running()
    targets = CampaignTarget.objects.filter(campaign=campaign)
    by_h5 = targets.filter(answered_via=ChannelCode.H5, reached_at__isnull=False).count()
    assert 0.5 <= by_h5 / campaign.target_count <= 0.7
    attempts = ContactAttempt.objects.filter(campaign=campaign, channel=ChannelCode.H5)
    assert attempts.filter(by=None).count() == attempts.count()
    assert not attempts.filter(finished_at__lt=campaign.launched_at).exists()
    assert not attempts.filter(finished_at__gt=afternoon()).exists()
    # Answers arrived over several hours: the coverage chart has a curve.
    lead = User.objects.get(username="lead1")
    points = coverage_selectors.progress_over_time(lead, campaign)
    assert len(points) >= 3
    assert points[-1].cumulative == targets.filter(reached_at__isnull=False).count()
    # Every answer went through validation and carries its provenance.
    for target in targets.filter(answered_via=ChannelCode.H5)[:50]:
        assert set(target.answer_sources) == set(target.answers)
        assert {s["channel"] for s in target.answer_sources.values()} == {ChannelCode.H5}


def test_some_answer_by_proxy_and_a_few_refuse(demo):
    campaign = running()
    targets = CampaignTarget.objects.filter(campaign=campaign)
    proxies = targets.filter(answered_via=ChannelCode.H5, answered_by_proxy=True)
    assert proxies.exists()
    today = timezone.localdate(afternoon())
    for target in proxies.select_related("person"):
        assert (today - target.person.birth_date).days >= generator.PROXY_AGE * 365
    refused = targets.filter(status=TargetStatus.REFUSED)
    assert 0 < refused.count() < 0.05 * campaign.target_count
    assert not refused.filter(reached_at__isnull=False).exists()


def test_fevers_are_high_risk_with_follow_up_tasks(demo):
    campaign = running()
    high = CampaignTarget.objects.filter(campaign=campaign, risk_level=RiskLevel.HIGH)
    assert high.exists()
    for target in high:
        fever = target.answers.get("temperature", 0) >= 37.3 or "fever" in target.answers.get(
            "symptoms", []
        )
        assert fever or target.answers.get("contact_confirmed") is True
        kinds = set(
            FollowUpTask.objects.filter(target=target, status=TaskStatus.OPEN).values_list(
                "kind", flat=True
            )
        )
        assert {FollowUp.DOOR_VISIT, FollowUp.HEALTH_MONITORING_PROPOSAL} <= kinds
    # Most people are well.
    well = CampaignTarget.objects.filter(campaign=campaign, risk_level=RiskLevel.NONE)
    assert well.count() > 10 * high.count()
    assert demo.screening.high_risk == high.count()


def test_grid_workers_knocked_on_doors_and_the_lists_are_filled(demo):
    campaign = running()
    knocks = ContactAttempt.objects.filter(campaign=campaign, channel=ChannelCode.DOOR_KNOCK)
    outcomes = {a.outcome for a in knocks}
    assert AttemptOutcome.ANSWERED in outcomes
    assert outcomes <= {AttemptOutcome.ANSWERED, AttemptOutcome.NOT_AT_HOME}
    for attempt in knocks.select_related("by"):
        assert attempt.by.role == Role.GRID_WORKER
        assert any(attempt.area_path.startswith(p) for p in attempt.by.jurisdiction_paths)
    reached_at_door = CampaignTarget.objects.filter(
        campaign=campaign, answered_via=ChannelCode.DOOR_KNOCK, status=TargetStatus.REACHED
    )
    assert reached_at_door.exists()
    assert not reached_at_door.filter(door_knocked_at__isnull=True).exists()
    # Each grid worker of community 1 has households left on their list.
    grids = Area.objects.filter(level=AreaLevel.GRID, path__startswith=communities()[0].path)
    for grid in grids:
        worker = User.objects.get(role=Role.GRID_WORKER, areas=grid)
        households = door_knock_selectors.door_knock_list(worker, campaign, grid)
        assert households
        assert all(
            any(m.status == TargetStatus.NEEDS_DOOR_KNOCK for m in h.members) for h in households
        )
    assert campaign.last_escalated_at is not None


def test_a_draft_arrivals_campaign_waits_in_community_2(demo):
    draft = Campaign.objects.get(status=CampaignStatus.DRAFT)
    community = communities()[1]
    assert draft.area == community
    assert draft.created_by.username == "lead2"
    assert draft.target_filters["residency"] == [Residency.FLOATING]
    assert draft.questionnaire_version.questionnaire.template == "arrivals"
    assert draft.questionnaire_version.questionnaire.area == community
    assert not CampaignTarget.objects.filter(campaign=draft).exists()
    preview = campaign_selectors.preview_targets(
        User.objects.get(username="lead2"), area=community, filters=draft.target_filters
    )
    assert preview.people > 0


def screening_snapshot() -> list[tuple]:
    targets = CampaignTarget.objects.select_related("person").order_by("person__id_number_hash")
    return [
        (
            t.person.id_number_hash,
            t.status,
            t.answers,
            t.risk_level,
            t.answered_via,
            t.answered_by_proxy,
            t.attempt_count,
        )
        for t in targets
    ]


def test_reset_removes_the_screening_and_the_same_seed_brings_it_back(demo):
    first = screening_snapshot()
    knockers = set(
        ContactAttempt.objects.filter(channel=ChannelCode.DOOR_KNOCK).values_list(
            "by__username", flat=True
        )
    )
    generator.reset_demo()
    for model in (
        Campaign,
        CampaignTarget,
        ContactAttempt,
        FollowUpTask,
        Questionnaire,
        QuestionnaireVersion,
        Person,
        Area,
    ):
        assert not model.objects.exists(), model
    # The log keeps the visits and who made them: those accounts are retired, not deleted.
    visits = AuditEvent.objects.filter(
        action=ScreeningAction.SCREENING_ANSWER, user_agent=generator.DEMO_USER_AGENT
    )
    assert {e.actor_username for e in visits} == knockers
    for event in visits.select_related("actor"):
        assert not event.actor.is_active
        assert not event.actor.has_usable_password()
        assert not event.actor.areas.exists()
    assert not User.objects.filter(username__in=knockers).exists()

    generator.generate_demo(seed=11, shape=SHAPE, now=afternoon())
    assert screening_snapshot() == first
    assert User.objects.get(username=sorted(knockers)[0]).is_active


def test_reset_is_still_refused_once_a_knocker_logged_in(demo):
    """Only the loader's own visits are excused: a person using the account is not."""
    knocker = ContactAttempt.objects.filter(channel=ChannelCode.DOOR_KNOCK).first().by
    record_event(action=AuditAction.LOGIN, actor=knocker)
    with pytest.raises(generator.DemoError, match="audit log"):
        generator.reset_demo()
    assert Campaign.objects.exists()
    assert User.objects.filter(pk=knocker.pk, is_active=True).exists()


def test_command_prints_the_campaign_and_resets_it(db, capsys):
    call_command("load_demo", "--scale", "0.03")
    out = capsys.readouterr().out
    assert "  screening " in out  # the step reports its progress
    assert "每日健康监测" in out
    campaigns = Campaign.objects.count()
    assert campaigns == 2
    call_command("load_demo", "--scale", "0.03", "--reset")
    assert Campaign.objects.count() == campaigns
    assert Campaign.objects.filter(status=CampaignStatus.RUNNING).count() == 1


def test_benchmarks_can_leave_the_screening_out(db):
    summary = generator.generate_demo(
        seed=11, shape=generator.DemoShape(communities=1, dwellings_per_compound=8), screening=False
    )
    assert summary.residents > 0 and summary.screening is None
    assert not Campaign.objects.exists() and not Questionnaire.objects.exists()
