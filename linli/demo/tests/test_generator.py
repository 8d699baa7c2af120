"""The demo street: deterministic, consistent, and staffed for every role."""

from collections import Counter
from datetime import date

import pytest
from django.core.management import call_command

from linli.accounts.models import User
from linli.areas.models import Area, AreaLevel
from linli.audit.models import AuditAction
from linli.audit.services import record_event
from linli.core.roles import Role
from linli.demo import generator
from linli.demo.factories import PASSWORD
from linli.registry.models import Household, Person, PersonTag, Relation, VulnerableTag
from linli.registry.selectors import age_on
from linli.registry.services.people import address_of

TINY = generator.DemoShape(
    communities=2, grids_per_community=2, compounds_per_grid=1, dwellings_per_compound=40
)


@pytest.fixture
def demo(db) -> generator.DemoSummary:
    return generator.generate_demo(seed=7, shape=TINY)


def snapshot() -> list[tuple]:
    people = Person.objects.order_by("area_path", "id").prefetch_related("tags")
    return [
        (
            p.name,
            p.sex,
            p.birth_date,
            p.relation_to_head,
            p.residency,
            p.id_number_hash,
            p.phone_hash,
            p.address_building,
            p.address_dwelling,
            p.area_path,
            p.has_smartphone,
            sorted(t.tag for t in p.tags.all()),
        )
        for p in people
    ]


def test_same_seed_gives_the_same_people(demo):
    """Resetting and loading again with the same seed recreates identical residents."""
    first = snapshot()
    generator.reset_demo()
    assert not Person.objects.exists()
    assert not Area.objects.exists()
    generator.generate_demo(seed=7, shape=TINY)
    assert snapshot() == first


def test_another_seed_gives_other_people(demo):
    first = snapshot()
    generator.reset_demo()
    generator.generate_demo(seed=8, shape=TINY)
    assert [row[0] for row in snapshot()] != [row[0] for row in first]


def test_tree_has_the_requested_shape_and_official_codes(demo):
    assert Area.objects.get(level=AreaLevel.CITY).code == "610100000000"
    assert Area.objects.get(level=AreaLevel.STREET).code == "610113001000"
    communities = Area.objects.filter(level=AreaLevel.COMMUNITY).order_by("path")
    assert [c.code for c in communities] == ["610113001001", "610113001002"]
    assert [c.name for c in communities] == ["长延堡社区", "大雁塔社区"]
    assert Area.objects.filter(level=AreaLevel.GRID).count() == 4
    compounds = Area.objects.filter(level=AreaLevel.COMPOUND)
    assert compounds.count() == 4
    assert all(c.aliases for c in compounds)
    assert demo.dwellings == Area.objects.filter(level=AreaLevel.DWELLING).count()
    for area in Area.objects.exclude(parent=None).select_related("parent"):
        assert area.path.startswith(area.parent.path)
        assert area.depth == area.parent.depth + 1
    assert not Area.objects.filter(level=AreaLevel.DWELLING, floor=None).exists()


def test_every_person_lives_in_a_dwelling_with_its_address(demo):
    people = list(Person.objects.select_related("dwelling", "household"))
    assert len(people) == demo.residents > 0
    for person in people:
        assert person.dwelling.level == AreaLevel.DWELLING
        assert person.area_path == person.dwelling.path == person.household.area_path
    for person in people[:: max(1, len(people) // 10)]:
        address = address_of(person.dwelling)
        assert (person.address_building, person.address_dwelling) == (
            address.building,
            address.dwelling,
        )


def test_households_have_exactly_one_head_who_is_their_member(demo):
    heads = Counter(
        Person.objects.filter(relation_to_head=Relation.HEAD).values_list("household", flat=True)
    )
    households = list(Household.objects.select_related("head"))
    assert len(households) == demo.households
    for household in households:
        assert heads[household.pk] == 1
        assert household.head.household_id == household.pk
        assert household.head.relation_to_head == Relation.HEAD


def test_tags_agree_with_ages_and_households(demo):
    today = date.today()
    sizes = Counter(Person.objects.values_list("household", flat=True))
    for person in Person.objects.prefetch_related("tags"):
        tags = {t.tag for t in person.tags.all()}
        age = age_on(person.birth_date, today)
        assert (VulnerableTag.INFANT in tags) == (age < 3)
        alone_and_old = sizes[person.household_id] == 1 and age >= 65
        assert (VulnerableTag.ELDERLY_ALONE in tags) == alone_and_old
        if VulnerableTag.PREGNANT in tags:
            assert person.sex == "F" and 20 <= age <= 40
        if VulnerableTag.NO_SMARTPHONE in tags:
            assert not person.has_smartphone
    for tag in PersonTag.objects.select_related("person"):
        assert tag.area_path == tag.person.area_path


def test_id_numbers_are_distinct_and_match_birth_and_sex(demo):
    rows = list(Person.objects.values_list("id_number_hash", "id_number_masked", "birth_date"))
    assert all(h for h, _, _ in rows)
    assert len({h for h, _, _ in rows}) == len(rows)
    # Most people were first registered in 雁塔区.
    assert sum(m.startswith("6101") for _, m, _ in rows) > len(rows) / 2


def test_every_grid_and_community_has_its_staff(demo):
    for i, grid in enumerate(Area.objects.filter(level=AreaLevel.GRID).order_by("path"), 1):
        worker = User.objects.get(username=f"grid{i}")
        assert worker.role == Role.GRID_WORKER
        assert list(worker.areas.all()) == [grid]
    for i, community in enumerate(Area.objects.filter(level=AreaLevel.COMMUNITY), 1):
        lead = User.objects.get(username=f"lead{i}")
        assert lead.role == Role.COMMUNITY_LEAD and list(lead.areas.all()) == [community]
    street = Area.objects.get(level=AreaLevel.STREET)
    expected = {
        "steward": (Role.DATA_STEWARD, street),
        "street": (Role.STREET_OFFICER, street),
        "district": (Role.DISTRICT_OFFICER, street.parent),
        "city": (Role.CITY_OFFICER, street.parent.parent),
    }
    for username, (role, area) in expected.items():
        user = User.objects.get(username=username)
        assert (user.role, list(user.areas.all())) == (role, [area])
        assert user.display_name and user.check_password(PASSWORD)
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password(PASSWORD)


def test_loading_twice_is_refused_by_the_generator(demo):
    with pytest.raises(generator.DemoError):
        generator.generate_demo(seed=7, shape=TINY)


def test_command_leaves_an_existing_demo_alone(db, capsys):
    """`load_demo` on a loaded database says so and changes nothing (make run calls it)."""
    call_command("load_demo", "--scale", "0.02")
    people = Person.objects.count()
    assert people > 0
    call_command("load_demo", "--scale", "0.02")
    assert "already loaded" in capsys.readouterr().out
    assert Person.objects.count() == people


def test_reset_is_refused_once_a_demo_account_is_in_the_audit_log(demo):
    """The audit log is append-only and keeps its actors, so nothing is deleted."""
    lead = User.objects.get(username="lead1")
    record_event(action=AuditAction.LOGIN, actor=lead)
    with pytest.raises(generator.DemoError, match="audit log"):
        generator.reset_demo()
    assert Person.objects.count() == demo.residents
    assert User.objects.filter(username="lead1").exists()


def test_scale_gives_about_ten_thousand_residents_per_unit():
    assert generator.DemoShape.for_scale(1) == generator.DemoShape()
    assert generator.DemoShape.for_scale(10).communities == 30
    small = generator.DemoShape.for_scale(0.1)
    assert small.communities == 1 and small.dwellings_per_compound == 81
