"""Two people deciding the same thing at the same moment: one decision wins, the other is
refused, and the audit log holds both (the loser with detail `refused: already decided`).

Every decision a user can race is here: a match review, a merge, an unmerge, a campaign's
launch and closing, a follow-up task's closing, a household's head and a move between
households. Each test starts two
threads with their own database connections behind a barrier, so both read the state before
either writes (as two requests do). PostgreSQL only: SQLite serialises writers, so the race
cannot happen there; run them with DATABASE_URL=postgres://….
"""

import threading
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from linli.audit.models import AuditEvent
from linli.demo import factories as f
from linli.registry.models import (
    Household,
    MatchReview,
    Person,
    PersonMerge,
    RegistryAction,
    Relation,
    ReviewStatus,
)
from linli.registry.services import merges, people
from linli.screening.models import (
    Campaign,
    CampaignStatus,
    CampaignTarget,
    FollowUpTask,
    ScreeningAction,
    TaskStatus,
)
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import followups
from linli.screening.services import questionnaires as questionnaire_services
from linli.screening.tests.builders import draft

pytestmark = pytest.mark.django_db(transaction=True)

REFUSED = {"refused": "already decided"}


def postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("races need concurrent connections: run on PostgreSQL (DATABASE_URL)")


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Runs the calls at the same moment, each in its own thread and connection. Returns
    what each returned, or the exception it raised."""
    postgresql_only()
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # compared below
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def one_won(results: list[Any]) -> tuple[Any, Exception]:
    """Asserts that exactly one call succeeded and the other was refused with a
    ValidationError (not a database error). Returns (winner's result, loser's error)."""
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1, results
    assert isinstance(errors[0], ValidationError), repr(errors[0])
    return next(r for r in results if not isinstance(r, Exception)), errors[0]


def events(action: str) -> list[dict]:
    return list(AuditEvent.objects.filter(action=action).values_list("detail", flat=True))


def refusals(action: str) -> list[dict]:
    return [d for d in events(action) if d.get("refused") == REFUSED["refused"]]


def loner(world) -> Person:
    """A second file of 张三丰 in A without an ID number: it may be merged into his."""
    return people.register_person(
        name="张三丰", phone="13812345678", dwelling=world.a.dwellings[0], by=None
    )


def test_same_person_and_different_people_at_once_one_decision_wins(world):
    """The probe's race: a steward says "same person", the lead "different people"."""
    other = loner(world)
    review = MatchReview.objects.create(
        left=world.resident_a, right=other, area_path=other.area_path, probability=0.9
    )
    as_steward, as_lead = (
        MatchReview.objects.get(pk=review.pk),
        MatchReview.objects.get(pk=review.pk),
    )
    results = race(
        lambda: merges.decide_review(review=as_steward, same_person=True, by=world.steward_a),
        lambda: merges.decide_review(review=as_lead, same_person=False, by=world.lead_a),
    )
    one_won(results)
    review.refresh_from_db()
    merged = Person.objects.get(pk=other.pk).merged_into_id is not None
    # The review says what happened to the pair.
    assert merged == (review.status == ReviewStatus.ACCEPTED)
    assert review.status in (ReviewStatus.ACCEPTED, ReviewStatus.REJECTED)
    assert PersonMerge.objects.count() == (1 if merged else 0)
    decided = [d for d in events(RegistryAction.REVIEW) if "refused" not in d]
    assert len(decided) == (0 if merged else 1)  # an accepted review is logged as its merge
    assert len(events(RegistryAction.MERGE)) == (1 if merged else 0)
    assert len(refusals(RegistryAction.REVIEW)) == 1


def test_two_identical_decisions_at_once_are_applied_once(world):
    """A double click on "different people": one decision, one refusal."""
    other = loner(world)
    review = MatchReview.objects.create(
        left=world.resident_a, right=other, area_path=other.area_path, probability=0.9
    )
    copies = [MatchReview.objects.get(pk=review.pk) for _ in range(2)]
    one_won(
        race(
            *[
                lambda r=r: merges.decide_review(review=r, same_person=False, by=world.steward_a)
                for r in copies
            ]
        )
    )
    assert len([d for d in events(RegistryAction.REVIEW) if "refused" not in d]) == 1
    assert len(refusals(RegistryAction.REVIEW)) == 1


def test_an_unmerge_twice_at_once_is_undone_once(world):
    merge = merges.merge_people(survivor=world.resident_a, merged=loner(world), by=world.steward_a)
    copies = [PersonMerge.objects.get(pk=merge.pk) for _ in range(2)]
    one_won(race(*[lambda m=m: merges.unmerge(merge=m, by=world.steward_a) for m in copies]))
    assert len([d for d in events(RegistryAction.UNMERGE) if "refused" not in d]) == 1
    assert len(refusals(RegistryAction.UNMERGE)) == 1
    assert PersonMerge.objects.get(pk=merge.pk).undone_at is not None


def test_one_file_merged_into_two_others_at_once_is_merged_once(world):
    other = loner(world)
    results = race(
        lambda: merges.merge_people(survivor=world.resident_a, merged=other, by=world.steward_a),
        lambda: merges.merge_people(survivor=world.resident_a2, merged=other, by=world.lead_a),
    )
    one_won(results)
    assert PersonMerge.objects.count() == 1
    assert len(refusals(RegistryAction.MERGE)) == 1


def test_a_pair_merged_both_ways_at_once_neither_deadlocks(world):
    """A into B and B into A at the same moment: the rows are locked in one order, so one
    merge waits for the other and is refused, instead of a database deadlock error."""
    other = loner(world)
    results = race(
        lambda: merges.merge_people(survivor=world.resident_a, merged=other, by=world.steward_a),
        lambda: merges.merge_people(survivor=other, merged=world.resident_a, by=world.lead_a),
    )
    one_won(results)
    assert PersonMerge.objects.count() == 1


def campaign_draft(world) -> Campaign:
    questionnaire = questionnaire_services.create_questionnaire(
        name="每日健康监测", area=world.a.community, by=world.lead_a, from_template="daily_symptoms"
    )
    return draft(world, questionnaire, deadline=timezone.now() + timedelta(days=1))


def test_a_campaign_launched_twice_at_once_gets_its_targets_once(world):
    campaign = campaign_draft(world)
    copies = [Campaign.objects.get(pk=campaign.pk) for _ in range(2)]
    one_won(
        race(
            *[
                lambda c=c: campaign_services.launch_campaign(campaign=c, by=world.lead_a)
                for c in copies
            ]
        )
    )
    assert CampaignTarget.objects.filter(campaign=campaign).count() == 2
    assert len(events(ScreeningAction.CAMPAIGN_LAUNCH)) == 1


def test_a_campaign_closed_twice_at_once_is_closed_once(world):
    campaign = campaign_services.launch_campaign(campaign=campaign_draft(world), by=world.lead_a)
    copies = [Campaign.objects.get(pk=campaign.pk) for _ in range(2)]
    one_won(
        race(
            lambda: campaign_services.close_campaign(campaign=copies[0], by=world.lead_a),
            lambda: campaign_services.close_campaign(campaign=copies[1], by=world.street_officer),
        )
    )
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.CLOSED
    closes = events(ScreeningAction.CAMPAIGN_CLOSE)
    assert len([d for d in closes if "refused" not in d]) == 1
    assert len(refusals(ScreeningAction.CAMPAIGN_CLOSE)) == 1


@pytest.fixture
def open_task(world) -> FollowUpTask:
    campaign = campaign_services.launch_campaign(campaign=campaign_draft(world), by=world.lead_a)
    target = campaign.targets.get(person=world.resident_a)
    return FollowUpTask.objects.create(
        campaign=campaign,
        target=target,
        person=world.resident_a,
        area_path=world.resident_a.area_path,
        kind="door_visit",
        risk_level="high",
    )


def test_a_follow_up_done_and_dismissed_at_once_is_closed_once(world, open_task):
    copies = [FollowUpTask.objects.get(pk=open_task.pk) for _ in range(2)]
    results = race(
        lambda: followups.close_follow_up_task(task=copies[0], status="done", by=world.grid_a),
        lambda: followups.close_follow_up_task(
            task=copies[1], status="dismissed", note="已入院", by=world.lead_a
        ),
    )
    winner, _ = one_won(results)
    task = FollowUpTask.objects.get(pk=open_task.pk)
    assert task.status == winner.status != TaskStatus.OPEN
    closes = events(ScreeningAction.FOLLOW_UP_CLOSE)
    assert [d["status"] for d in closes if "refused" not in d] == [task.status]
    assert len(refusals(ScreeningAction.FOLLOW_UP_CLOSE)) == 1


# --- The same decisions one after the other, from pages read before either (any database) ---


def test_a_review_decided_from_a_stale_page_is_refused_and_logged(world):
    other = loner(world)
    review = MatchReview.objects.create(
        left=world.resident_a, right=other, area_path=other.area_path, probability=0.9
    )
    stale = MatchReview.objects.get(pk=review.pk)
    merges.decide_review(review=review, same_person=False, by=world.lead_a)
    with pytest.raises(ValidationError):
        merges.decide_review(review=stale, same_person=True, by=world.steward_a)
    assert Person.objects.get(pk=other.pk).merged_into_id is None
    assert len(refusals(RegistryAction.REVIEW)) == 1


def test_an_unmerge_from_a_stale_page_is_refused_and_logged(world):
    merge = merges.merge_people(survivor=world.resident_a, merged=loner(world), by=world.steward_a)
    stale = PersonMerge.objects.get(pk=merge.pk)
    merges.unmerge(merge=merge, by=world.steward_a)
    with pytest.raises(ValidationError):
        merges.unmerge(merge=stale, by=world.lead_a)
    assert len(refusals(RegistryAction.UNMERGE)) == 1


def third_member(world) -> Person:
    return f.make_resident(
        dwelling=world.a.dwellings[0],
        name="张小虎",
        household=world.resident_a.household,
        relation=Relation.CHILD,
        birth=date(1970, 1, 1),
        sequence=331,
        phone="13900002222",
    )


def assert_households_consistent() -> None:
    """Each household's head is one of its members, and the only one called head."""
    for household in Household.objects.all():
        members = Person.objects.filter(household=household, merged_into__isnull=True)
        heads = set(members.filter(relation_to_head=Relation.HEAD).values_list("pk", flat=True))
        if household.head_id is None:
            assert not members.exists() or heads == set(), household
            continue
        assert heads == {household.head_id}, (household, heads, household.head_id)


def test_two_heads_named_at_once_leave_one_head(world):
    child = third_member(world)
    household = world.resident_a.household
    copies = [Household.objects.get(pk=household.pk) for _ in range(2)]
    results = race(
        lambda: people.set_household_head(
            household=copies[0], person=world.resident_a2, by=world.lead_a
        ),
        lambda: people.set_household_head(household=copies[1], person=child, by=world.grid_a),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert_households_consistent()


def test_two_members_moving_out_at_once_leave_households_consistent(world):
    """The head and another member each move into a household of their own at the same
    moment: the household they left gets a head who still lives in it (or none)."""
    third_member(world)
    a, a2 = (Person.objects.get(pk=p.pk) for p in (world.resident_a, world.resident_a2))
    results = race(
        lambda: people.move_to_household(
            person=a, household=None, relation=Relation.HEAD, by=world.lead_a
        ),
        lambda: people.move_to_household(
            person=a2, household=None, relation=Relation.HEAD, by=world.grid_a
        ),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert_households_consistent()
