"""Every list page costs the same number of queries for 20 rows as for 1 (no N+1).

Zulip asserts query counts on its list pages so that an N+1 regression fails loudly; this
module does it for all of ours at once. `LIST_PAGES` maps each list page's URL name to the
persona who reads it and a seed function `seed(world, n) -> URL kwargs` that adds `n` rows of
the page's content inside that persona's jurisdiction. For each entry the page is rendered
with 1 row and, from scratch, with 20 rows (each seed runs in a savepoint that is rolled back);
the test fails when 20 rows take more queries than 1 (counted with
`django.test.utils.CaptureQueriesContext`, on a second render so that per-process caches are
warm in both cases), and also when the page with 20 rows is not longer than with 1, so a seed
that the persona cannot see does not pass silently.

A new app's list page joins by adding its row to `LIST_PAGES`. It cannot be forgotten:
`test_every_paginated_page_is_listed` walks every URL pattern of the project (Django's admin
aside: its change lists are Django's), fills its parameters with objects of community A
(`walk_values`), GETs it as each role of conftest's personas (community lead, data steward,
grid worker, street officer, volunteer), and records every URL name whose view built a page
of a paginator (`django.core.paginator.Paginator.page` is wrapped for the walk;
`CappedPaginator`, the JSON API's `_paginate` and any other Django paginator go through it).
Each of those must be in `LIST_PAGES` (or in `NOT_LISTS` with a reason). Detecting by what a
view does, not by its source or its name, finds a list however its view is written (a helper
such as registry's `_page`, a package of views) and needs no naming convention.
A list that is not paginated (the area tree, the questionnaires, the door-knock list, the
robot page) cannot be found this way; those are in the table because they are list pages,
and whoever adds one such page adds its row as well. A URL parameter the walk does not know
fails the walk, as in tests/test_jurisdiction_urls.py.
"""

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from linli.areas.models import AreaLevel
from linli.areas.services import create_area
from linli.audit.models import AuditAction
from linli.audit.services import record_event
from linli.core.actors import AuditContext
from linli.core.roles import Role
from linli.demo import factories as f
from linli.registry.models import (
    BatchStatus,
    ImportBatch,
    ImportSource,
    MatchReview,
    PersonMerge,
)
from linli.screening.models import (
    CampaignTarget,
    FollowUpTask,
    RiskLevel,
    TargetStatus,
)
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.voice.models import Line
from linli.voice.services import robots as robot_services
from linli.workorders.services import escalation as escalation_services
from linli.workorders.services import orders as work_order_services

FEW, MANY = 1, 20

# Distinct ID numbers and phones for every resident a seed registers (make_id_number takes a
# sequence below 1000; the birth date moves on instead).
_serial = itertools.count(1)


# ---------------------------------------------------------------------------------------------
# Seeds: each adds n rows of one page's content to community A and returns the URL kwargs.


def residents(world, n: int, *, dwelling=None) -> list:
    """Returns n new residents of community A's first grid, each in a household of their own."""
    people = []
    for _ in range(n):
        i = next(_serial)
        people.append(
            f.make_resident(
                dwelling=dwelling or world.a.dwellings[i % len(world.a.dwellings)],
                name=f"居民{i}",
                birth=date(1950, 1, 1) + timedelta(days=i),
                sequence=i % 1000,
                phone=f"137{i:08d}",
            )
        )
    return people


def seed_residents(world, n: int) -> dict:
    residents(world, n)
    return {}


def seed_child_areas(world, n: int) -> dict:
    """n grids under community A, each with its grid worker and a resident."""
    for i in range(n):
        grid = create_area(parent=world.a.community, level=AreaLevel.GRID, name=f"网格{i + 2}")
        f.make_staff(username=f"grid_worker_{i}", role=Role.GRID_WORKER, areas=[grid])
    return {"area_id": world.a.community.pk}


def seed_root_areas(world, n: int) -> dict:
    """A grid worker answering for grid A and n more grids (n + 1 roots of their area tree:
    with one root the page redirects to it)."""
    grids = [
        create_area(parent=world.a.community, level=AreaLevel.GRID, name=f"网格{i + 2}")
        for i in range(n)
    ]
    world.many_grids = f.make_staff(
        username="many_grids", role=Role.GRID_WORKER, areas=[world.a.grid, *grids]
    )
    return {}


def seed_import_batches(world, n: int) -> dict:
    a = world.a.community
    source = ImportSource.objects.create(name="物业", kind="property", area=a, area_path=a.path)
    for i in range(n):
        ImportBatch.objects.create(
            source=source,
            area=a,
            area_path=a.path,
            file_name=f"物业{i}.csv",
            file_sha256=f"{i:064d}",
            stored_file="imports/none.csv",
            status=BatchStatus.COMMITTED,
            created_by=world.steward_a,
        )
    return {}


def seed_reviews(world, n: int) -> dict:
    for other in residents(world, n):
        MatchReview.objects.create(
            left=world.resident_a, right=other, area_path=other.area_path, probability=0.9
        )
    return {}


def seed_audit_events(world, n: int) -> dict:
    for person in residents(world, n):
        record_event(
            action=AuditAction.REVEAL,
            actor=world.lead_a,
            context=AuditContext.none(),
            object_type="person",
            object_id=person.pk,
            object_label=person.name,
            field="phone",
            purpose="contact",
            area_path=person.area_path,
        )
    return {}


def questionnaire(world):
    return questionnaire_services.create_questionnaire(
        name="每日健康监测", area=world.a.community, by=world.lead_a, from_template="daily_symptoms"
    )


def launched(world, channels: list[str], name: str = "每日健康监测", version=None):
    """Returns a running campaign of community A's lead over all of community A."""
    campaign = campaign_services.create_campaign(
        name=name,
        questionnaire_version=version
        or questionnaire_selectors.latest_version(questionnaire(world)),
        area=world.a.community,
        by=world.lead_a,
        channels=channels,
    )
    return campaign_services.launch_campaign(campaign=campaign, by=world.lead_a)


def seed_campaigns(world, n: int) -> dict:
    version = questionnaire_selectors.latest_version(questionnaire(world))
    for i in range(n):
        launched(world, ["h5", "door_knock"], name=f"排查{i}", version=version)
    return {}


def seed_questionnaires(world, n: int) -> dict:
    for i in range(n):
        questionnaire_services.create_questionnaire(
            name=f"问卷{i}", area=world.a.community, by=world.lead_a, from_template="arrivals"
        )
    return {}


def seed_tasks(world, n: int) -> dict:
    people = residents(world, n)
    campaign = launched(world, ["h5", "door_knock"])
    for target in CampaignTarget.objects.filter(campaign=campaign, person__in=people):
        FollowUpTask.objects.create(
            campaign=campaign,
            target=target,
            person=target.person,
            area_path=target.area_path,
            kind="door_visit",
            risk_level="high",
        )
    return {}


def seed_door_knock(world, n: int) -> dict:
    """n households of grid A on a door-knock-only campaign (all of them on the list)."""
    residents(world, n)
    return {"campaign_id": launched(world, ["door_knock"]).pk}


def seed_coverage(world, n: int) -> dict:
    """n residents not reached yet and n reached at high risk (the dashboard's two lists)."""
    residents(world, n)
    risky = residents(world, n)
    campaign = launched(world, ["h5", "door_knock"])
    CampaignTarget.objects.filter(campaign=campaign, person__in=risky).update(
        status=TargetStatus.REACHED, reached_at=timezone.now(), risk_level=RiskLevel.HIGH
    )
    return {"campaign_id": campaign.pk}


def seed_call_jobs(world, n: int) -> dict:
    """n residents with phones queued for the robot (one call job each)."""
    Line.objects.create(name="中继一", carrier="simulated", max_concurrent=30, calls_per_second=5)
    residents(world, n)
    campaign = launched(world, ["phone", "door_knock"])
    robot_services.start_robot(campaign=campaign, by=world.lead_a)
    return {"campaign_id": campaign.pk}


def seed_staff_imports(world, n: int) -> dict:
    """n staff imports of community A (the staff page lists the latest 30, unpaginated)."""
    from linli.accounts.models import StaffImportBatch

    StaffImportBatch.objects.bulk_create(
        StaffImportBatch(
            file_name=f"人员{i}.xlsx", area_path=world.a.community.path, created_count=i
        )
        for i in range(n)
    )
    return {}


def _work_orders(world, n: int, **dispatch) -> list:
    """n work orders about n new residents of grid A, dispatched as given (none: new)."""
    made = []
    for person in residents(world, n):
        order = work_order_services.raise_work_order(
            kind="general",
            area=world.a.grid,
            by=world.lead_a,
            person=person,
            priority="p0",
            text="需要送药",
        )
        if dispatch:
            order = work_order_services.dispatch_work_order(
                order=order, by=world.lead_a, **dispatch
            )
        made.append(order)
    return made


def seed_my_work_orders(world, n: int) -> dict:
    """n orders dispatched to grid A's worker, escalated to community A's lead."""
    _work_orders(world, n, assignee=world.grid_a)
    escalation_services.sweep_escalations(now=timezone.now() + timedelta(minutes=6))
    return {}


def seed_queue_work_orders(world, n: int) -> dict:
    _work_orders(world, n)
    return {}


def seed_notifications(world, n: int) -> dict:
    """n orders in grid A's queue, each notified to grid A's worker by the bell."""
    _work_orders(world, n)
    escalation_services.sweep_escalations(now=timezone.now())


def seed_passes(world, n: int) -> dict:
    """n households of community A, each issued a pass of one household policy."""
    from linli.passes.services import issuing
    from linli.passes.tests.builders import household_policy

    residents(world, n)
    issuing.issue_to_area(policy=household_policy(world), by=world.lead_a)
    return {}


@dataclass(frozen=True)
class ListPage:
    persona: str  # an attribute of conftest.World (or one the seed sets)
    seed: Callable[..., dict]


LIST_PAGES: dict[str, ListPage] = {
    "registry:people": ListPage("lead_a", seed_residents),
    "registry:households": ListPage("lead_a", seed_residents),
    "registry:areas": ListPage("many_grids", seed_root_areas),
    "registry:area": ListPage("lead_a", seed_child_areas),
    "registry:imports": ListPage("steward_a", seed_import_batches),
    "accounts:staff": ListPage("steward_a", seed_staff_imports),
    "registry:reviews": ListPage("steward_a", seed_reviews),
    "api:list_people": ListPage("lead_a", seed_residents),
    "api:list_households": ListPage("lead_a", seed_residents),
    "audit:events": ListPage("steward_a", seed_audit_events),
    "screening:campaigns": ListPage("lead_a", seed_campaigns),
    "screening:questionnaires": ListPage("lead_a", seed_questionnaires),
    "screening:tasks": ListPage("lead_a", seed_tasks),
    "screening:door_knock": ListPage("grid_a", seed_door_knock),
    "screening:coverage": ListPage("lead_a", seed_coverage),
    "screening:coverage_live": ListPage("lead_a", seed_coverage),
    "voice:campaign": ListPage("lead_a", seed_call_jobs),
    "workorders:mine": ListPage("grid_a", seed_my_work_orders),
    # The lead's own list is empty; what was escalated to them shows on top of it.
    "workorders:queue": ListPage("lead_a", seed_queue_work_orders),
    "workorders:notifications": ListPage("grid_a", seed_notifications),
    "passes:passes": ListPage("lead_a", seed_passes),
}

# Paginated routes that are not list pages of their own, each with the reason.
NOT_LISTS: dict[str, str] = {}

# Known N+1 pages, failing until fixed (strict: the day it is fixed, the mark must go).
KNOWN_N_PLUS_ONE: dict[str, str] = {}


def render(client, url: str) -> tuple[int, bytes, list[str]]:
    """Returns (queries, body, SQL) of the second GET of `url` (the first warms caches)."""
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return len(queries), response.content, [q["sql"] for q in queries.captured_queries]


def measure(world, client, url_name: str, n: int) -> tuple[int, bytes, list[str]]:
    """Seeds n rows in a savepoint, renders the page as its persona, and rolls back."""
    page = LIST_PAGES[url_name]
    with transaction.atomic():
        kwargs = page.seed(world, n)
        client.force_login(getattr(world, page.persona))
        result = render(client, reverse(url_name, kwargs=kwargs))
        transaction.set_rollback(True)
    return result


def _cases() -> list:
    return [
        pytest.param(
            name,
            id=name,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_N_PLUS_ONE[name])]
            if name in KNOWN_N_PLUS_ONE
            else [],
        )
        for name in LIST_PAGES
    ]


@pytest.mark.parametrize("url_name", _cases())
def test_twenty_rows_cost_no_more_queries_than_one(world, client, url_name):
    """A list page with 20 rows runs no more queries than with 1 row."""
    few, few_body, _ = measure(world, client, url_name, FEW)
    many, many_body, many_sql = measure(world, client, url_name, MANY)
    assert len(many_body) > len(few_body), f"{url_name}: the seeded rows are not on the page"
    assert many <= few, (
        f"{url_name}: {few} queries with {FEW} row, {many} with {MANY} (N+1?). "
        "Queries with 20 rows:\n" + "\n".join(many_sql)
    )


# ---------------------------------------------------------------------------------------------
# The walk that finds paginated pages missing from the table


def walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    """Yields (route, URL name with its namespaces) for every named pattern."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern) and entry.name:
            yield prefix + str(entry.pattern), namespace + entry.name


def walk_values(world) -> dict[str, str]:
    """Returns, per URL parameter name, an object of community A to try."""
    kwargs = seed_call_jobs(world, FEW)
    seed_import_batches(world, FEW)
    seed_reviews(world, FEW)
    campaign_id = kwargs["campaign_id"]
    target = CampaignTarget.objects.filter(campaign_id=campaign_id).first()
    task = FollowUpTask.objects.create(
        campaign_id=campaign_id,
        target=target,
        person=target.person,
        area_path=target.area_path,
        kind="door_visit",
        risk_level="high",
    )
    from linli.passes.services import issuing
    from linli.passes.tests.builders import household_policy

    pass_policy = household_policy(world)
    a_pass = issuing.issue_pass(policy=pass_policy, holder=world.resident_a, by=world.lead_a)
    duplicate = residents(world, FEW)[0]
    merge = PersonMerge.objects.create(
        survivor=world.resident_a, merged=duplicate, area_path=duplicate.area_path
    )
    return {
        "area_id": str(world.a.community.pk),
        "person_id": str(world.resident_a.pk),
        "household_id": str(world.resident_a.household_id),
        "batch_id": str(ImportBatch.objects.first().pk),
        "review_id": str(MatchReview.objects.first().pk),
        "merge_id": str(merge.pk),
        "questionnaire_id": str(target.campaign.questionnaire_version.questionnaire_id),
        "campaign_id": str(campaign_id),
        "task_id": str(task.pk),
        "order_id": str(_work_orders(world, FEW, assignee=world.grid_a)[0].pk),
        "verb": "accept",
        "policy_id": str(pass_policy.pk),
        "pass_id": str(a_pass.pk),
        "token": "not-a-link",
    }


def test_every_paginated_page_is_listed(world, client, monkeypatch):
    """Every route whose view builds a page of a paginator is in LIST_PAGES (or NOT_LISTS)."""
    built: list[bool] = []
    original = Paginator.page

    def page(self, number):
        built.append(True)
        return original(self, number)

    monkeypatch.setattr(Paginator, "page", page)
    values = walk_values(world)
    personas = (
        world.lead_a,
        world.steward_a,
        world.grid_a,
        world.street_officer,
        world.volunteer_a,
    )
    paginated = set()
    for route, name in walk(get_resolver().url_patterns):
        if route.startswith("admin/"):
            continue  # Django's admin: its change lists are Django's
        params = re.findall(r"<(?:\w+:)?(\w+)>", route)
        unknown = [p for p in params if p not in values]
        assert not unknown, f"{route}: add a community-A value for {unknown} to walk_values"
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)
        for persona in personas:
            client.force_login(persona)
            built.clear()
            client.get(path)
            if built:
                paginated.add(name)
    assert paginated, "the walk found no paginated page at all: is the wrapper still called?"
    missing = paginated - set(LIST_PAGES) - set(NOT_LISTS)
    assert not missing, f"paginated pages missing from LIST_PAGES: {sorted(missing)}"


def test_the_table_names_real_routes():
    """Every URL name in LIST_PAGES and NOT_LISTS exists (a renamed route must be renamed here)."""
    names = {name for _route, name in walk(get_resolver().url_patterns)}
    assert set(LIST_PAGES) | set(NOT_LISTS) <= names


# ---------------------------------------------------------------------------------------------
# Pages of one route the table cannot name: the door-knock list by building, and its landing
# page of buildings (views.door_knock: ?building=, and an area with many households left).


def measure_door_knock(world, client, n: int, query: str) -> tuple[int, bytes, list[str]]:
    with transaction.atomic():
        kwargs = seed_door_knock(world, n)
        client.force_login(world.grid_a)
        url = reverse("screening:door_knock", kwargs=kwargs) + query
        result = render(client, url.replace("BUILDING", str(world.a.building.pk)))
        transaction.set_rollback(True)
    return result


@pytest.mark.parametrize("query", ["?building=BUILDING", "?building=BUILDING&floor=1", ""])
def test_door_knock_buildings_and_building_pages_cost_no_more_for_twenty(
    world, client, monkeypatch, query
):
    """The door-knock list of one building (and of one floor), and the landing page that lists
    the buildings instead of the households, run no more queries for 20 households than for 1."""
    from linli.screening.views import door_knock

    monkeypatch.setattr(door_knock, "DIRECT_LIST_MAX", 0)  # the landing lists buildings
    few, few_body, _ = measure_door_knock(world, client, FEW, query)
    many, many_body, many_sql = measure_door_knock(world, client, MANY, query)
    assert few_body != many_body
    assert many <= few, f"{few} queries with {FEW}, {many} with {MANY}:\n" + "\n".join(many_sql)
