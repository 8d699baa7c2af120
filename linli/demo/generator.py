"""The demo community: 西安市雁塔区小寨路街道 with realistic compounds, families and staff.

`generate_demo` builds the whole street from a fixed seed, so the same seed (on the same day)
gives the same people. Its last step shows screening at work in community 1: a daily symptom
campaign launched this morning, answered by most residents through their H5 links, some
households visited by the grid workers, and the risky answers turned into follow-up tasks;
plus a draft arrivals campaign in community 2. Every screening record goes through
linli.screening.services, as the pages write them.

The street itself is written in bulk: area rows level by level, households, residents and
tags in batches, all in one transaction, so a crash leaves nothing half-written. At
scale 1 it builds three communities with about 4,500 households and 10,000 residents; each
further unit of scale adds three communities of the same size under the same street.

Identifiers go through `registry.services.build_person`, so they are sealed exactly as the
product seals them; staff accounts go through `accounts.services.create_staff_user`.
"""

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from itertools import islice
from typing import TypeVar

from django.db import transaction
from django.db.models import Exists, OuterRef, ProtectedError, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy

from linli.accounts.models import AccountAction, AreaAssignment, User
from linli.accounts.services import create_staff_user
from linli.areas.models import LEVEL_ORDER, Area, AreaLevel
from linli.areas.services import segment
from linli.audit.models import AuditEvent
from linli.audit.services import record_event
from linli.core.actors import AuditContext
from linli.core.clock import local_today
from linli.core.errors import both_languages
from linli.core.idnumbers import make_id_number
from linli.core.roles import Role
from linli.demo.factories import (
    COMPOUND_SURNAMES,
    GIVEN_CHARS,
    PASSWORD,
    make_admin_chain,
    mobile_number,
    person_name,
)
from linli.registry.models import (
    Household,
    Person,
    PersonTag,
    Relation,
    Residency,
    Sex,
    VulnerableTag,
)
from linli.registry.selectors import age_on
from linli.registry.services.people import Address, build_person
from linli.screening.channels import get_channel
from linli.screening.models import (
    AttemptOutcome,
    Campaign,
    CampaignTarget,
    ChannelCode,
    ContactAttempt,
    FollowUpTask,
    Questionnaire,
    TargetStatus,
)
from linli.screening.questionnaires.schema import RiskLevel
from linli.screening.questionnaires.templates import OTHER_SYMPTOMS
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import door_knocks as door_knock_services
from linli.screening.services import questionnaires as questionnaire_services

CITY_CODE = "610100000000"
DISTRICT_CODE = "610113000000"
STREET_CODE = "610113001000"
HOME_REGION = "610113"  # 雁塔区: where most registered residents were first registered
BATCH_SIZE = 2000

ProgressCallback = Callable[[str, int, int], None]  # (stage, done, total)
T = TypeVar("T")

COMMUNITY_NAMES = (
    "长延堡社区", "大雁塔社区", "曲江池社区", "小寨东路社区", "小寨西路社区", "西影路社区",
    "吉祥村社区", "育才路社区", "长安中路社区", "翠华路社区", "雁塔西路社区", "陕师大社区",
    "兴善寺社区", "大寨路社区", "青松路社区", "电子城社区", "丈八沟社区", "木塔寺社区",
    "南窑头社区", "北池头社区", "芙蓉园社区", "含光路社区", "朱雀大街社区", "文艺路社区",
    "等驾坡社区", "杜城社区", "明德门社区", "太白南路社区", "紫薇田园社区", "观音庙社区",
    "后村社区", "八里村社区",
)  # fmt: skip
# First part of a compound's name (also its everyday alias) and the usual endings.
COMPOUND_STEMS = (
    "翠华", "紫薇", "长安", "曲江", "雁塔", "大唐", "芙蓉", "南湖", "金地", "融侨", "枫林",
    "永松", "含光", "西影", "吉祥", "育才", "丈八", "木塔", "明德", "太白", "朱雀", "杜城",
    "师大", "西电", "邮电", "石油", "航天", "铁路", "长延", "兴善", "青松", "电子", "绿园",
    "天朗", "荣华", "锦园", "东方", "春晓", "秋林", "华侨", "新苑", "金泰", "瑞鑫", "和平",
    "幸福", "阳光", "白鹭", "嘉园", "城南", "御道",
)  # fmt: skip
COMPOUND_ENDINGS = ("小区", "小区", "花园", "家园", "新村", "公寓", "佳苑", "名居", "华庭", "雅居")
CHINESE_DIGITS = "零一二三四五六七八九"


@dataclass(frozen=True)
class BuildingStyle:
    floors: int
    units: tuple[int, ...]  # possible unit counts per building
    per_floor: int  # dwellings per floor in each unit


# Walk-ups of the 1980s–90s, mid-rises of the 2000s, towers of the 2010s.
BUILDING_STYLES = (
    BuildingStyle(floors=6, units=(2, 3), per_floor=2),
    BuildingStyle(floors=7, units=(3, 4), per_floor=2),
    BuildingStyle(floors=11, units=(2,), per_floor=2),
    BuildingStyle(floors=18, units=(1, 2), per_floor=4),
    BuildingStyle(floors=26, units=(1,), per_floor=4),
)

# Household compositions and their weights, for owned and for rented dwellings.
OWNED_KINDS = {
    "single_young": 0.09,
    "single_middle": 0.07,
    "elderly_alone": 0.11,
    "couple_young": 0.08,
    "couple_middle": 0.09,
    "couple_elderly": 0.14,
    "nuclear_1": 0.22,
    "nuclear_2": 0.07,
    "three_gen_parents": 0.06,
    "three_gen_grandchild": 0.04,
    "single_parent": 0.03,
}
RENTED_KINDS = {
    "single_young": 0.35,
    "single_middle": 0.08,
    "couple_young": 0.22,
    "nuclear_1": 0.20,
    "nuclear_2": 0.04,
    "shared": 0.08,
    "single_parent": 0.03,
}
VACANT_SHARE = 0.08
RENTED_SHARE = 0.22

# Counties of first registration: Xi'an's other districts, Shaanxi, and other provinces
# (floating residents come mostly from the latter).
XIAN_REGIONS = ("610102", "610103", "610104", "610111", "610112", "610116")
SHAANXI_REGIONS = ("610402", "610302", "610502", "612401", "610602", "610702")
OTHER_REGIONS = (
    "410102", "411302", "620102", "140105", "510104", "500101", "130102", "371302",
    "420111", "640104", "340104", "430102",
)  # fmt: skip

STAFF_TITLES = {
    Role.GRID_WORKER: "网格员",
    Role.COMMUNITY_LEAD: "社区书记",
    Role.DATA_STEWARD: "数据管理员",
    Role.STREET_OFFICER: "街道干部",
    Role.DISTRICT_OFFICER: "区级干部",
    Role.CITY_OFFICER: "市级干部",
    Role.VOLUNTEER: "志愿者",
}
FIXED_USERNAMES = ("steward", "street", "district", "city", "volunteer", "admin")


class DemoError(Exception):
    """Raised when the demo cannot be loaded or reset; the message is for the operator."""


@dataclass(frozen=True)
class DemoShape:
    """How big the demo street is."""

    communities: int = 3
    grids_per_community: int = 3
    compounds_per_grid: int = 2
    dwellings_per_compound: int = 270  # about; the last building of a compound is cut short

    @classmethod
    def for_scale(cls, scale: float) -> "DemoShape":
        """Returns the shape for `--scale`: three communities per unit, ~10,000 residents.

        Below 1 the single community shrinks instead, so small scales stay one street.
        """
        if scale <= 0:
            raise DemoError(both_languages(gettext_lazy("scale must be positive")))
        communities = max(1, round(3 * scale))
        dwellings = max(4, round(cls.dwellings_per_compound * 3 * scale / communities))
        return cls(communities=communities, dwellings_per_compound=dwellings)


@dataclass
class DemoSummary:
    communities: int = 0
    grids: int = 0
    compounds: int = 0
    buildings: int = 0
    units: int = 0
    dwellings: int = 0
    vacant_dwellings: int = 0
    households: int = 0
    residents: int = 0
    residency: dict[str, int] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)
    without_phone: int = 0
    usernames: list[str] = field(default_factory=list)
    screening: "DemoScreening | None" = None
    seconds: float = 0.0


@dataclass
class _Member:
    name: str
    sex: str
    birth: date
    relation: str
    residency: str
    region: str
    phone: str = ""
    has_smartphone: bool = True
    tags: list[str] = field(default_factory=list)


def demo_exists() -> bool:
    """Returns whether the demo city (or any city with its code) is already in the tree."""
    return Area.objects.filter(code=CITY_CODE).exists()


def generate_demo(
    *,
    seed: int = 2026,
    scale: float = 1,
    shape: DemoShape | None = None,
    progress: ProgressCallback | None = None,
    today: date | None = None,
    now: datetime | None = None,
    screening: bool = True,
) -> DemoSummary:
    """Builds the demo street in one transaction and returns what it created.

    `shape` overrides `scale` (tests use a tiny street). `now` is when the screening
    campaign is looked at (it was launched that morning); `screening=False` leaves the
    screening step out (benchmarks run campaigns of their own). Raises DemoError when the
    demo city or one of the demo usernames already exists.
    """
    started = time.perf_counter()
    shape = shape or DemoShape.for_scale(scale)
    # ID numbers refuse birth dates after today, so ages count from the same clock.
    today = today or local_today()
    report = progress or (lambda stage, done, total: None)
    if demo_exists():
        raise DemoError(
            both_languages(
                gettext_lazy(
                    "an area with code %(code)s already exists: the demo is loaded (use "
                    "--reset to rebuild it)"
                ),
                {"code": CITY_CODE},
            )
        )
    usernames = _usernames(shape)
    taken = sorted(
        User.objects.filter(username__in=[u for u in usernames if u != "admin"]).values_list(
            "username", flat=True
        )
    )
    if taken:
        raise DemoError(
            both_languages(
                gettext_lazy("demo usernames already taken: %(names)s"), {"names": ", ".join(taken)}
            )
        )

    rng = random.Random(seed)
    summary = DemoSummary()
    with transaction.atomic():
        tree = _create_areas(rng, shape, summary, report)
        _create_residents(rng, tree.dwellings, today, summary, report)
        # Staff get their own stream of random numbers so changing the resident model does
        # not rename the demo staff people have learnt.
        summary.usernames = _create_staff(random.Random(seed + 1), tree, report)
        if screening:
            # Its own stream too, so the screening story does not reshuffle the people.
            summary.screening = _create_screening(
                random.Random(seed + 2), tree, now or timezone.now(), report
            )
    summary.seconds = time.perf_counter() - started
    return summary


@dataclass
class _Tree:
    street: Area
    communities: list[Area]
    grids: list[Area]
    dwellings: list[Area]  # each with .parent (unit) → .parent (building) → .parent (compound)


def _create_areas(
    rng: random.Random, shape: DemoShape, summary: DemoSummary, report: ProgressCallback
) -> _Tree:
    _, _, street = make_admin_chain()
    communities = [
        _child(
            street,
            i,
            AreaLevel.COMMUNITY,
            _community_name(i),
            code=f"{STREET_CODE[:9]}{i:03d}",
        )
        for i in range(1, shape.communities + 1)
    ]
    Area.objects.bulk_create(communities)
    grids = [
        _child(community, i, AreaLevel.GRID, f"第{_chinese_number(i)}网格")
        for community in communities
        for i in range(1, shape.grids_per_community + 1)
    ]
    Area.objects.bulk_create(grids)
    names = _compound_names(rng, len(grids) * shape.compounds_per_grid)
    compounds = []
    for grid in grids:
        for i in range(1, shape.compounds_per_grid + 1):
            name, aliases = next(names)
            compounds.append(_child(grid, i, AreaLevel.COMPOUND, name, aliases=aliases))
    Area.objects.bulk_create(compounds)

    buildings, units, dwellings = [], [], []
    for compound in compounds:
        style = rng.choice(BUILDING_STYLES)
        target = round(shape.dwellings_per_compound * rng.uniform(0.9, 1.1))
        number = 0
        while target > 0:
            number += 1
            building = _child(compound, number, AreaLevel.BUILDING, f"{number}号楼")
            buildings.append(building)
            unit_count = rng.choice(style.units)
            per_storey = unit_count * style.per_floor
            # The last building of a small compound gets fewer floors instead of overshooting.
            floors = min(style.floors, -(-target // per_storey))
            target -= floors * per_storey
            for u in range(1, unit_count + 1):
                unit = _child(building, u, AreaLevel.UNIT, f"{u}单元")
                units.append(unit)
                position = 0
                for floor in range(1, floors + 1):
                    for n in range(1, style.per_floor + 1):
                        position += 1
                        dwellings.append(
                            _child(
                                unit, position, AreaLevel.DWELLING, f"{floor}{n:02d}室", floor=floor
                            )
                        )
    Area.objects.bulk_create(buildings, batch_size=BATCH_SIZE)
    Area.objects.bulk_create(units, batch_size=BATCH_SIZE)
    for done, batch in _batches(dwellings, BATCH_SIZE):
        Area.objects.bulk_create(batch)
        report("dwellings", done, len(dwellings))

    summary.communities, summary.grids, summary.compounds = (
        len(communities),
        len(grids),
        len(compounds),
    )
    summary.buildings, summary.units, summary.dwellings = len(buildings), len(units), len(dwellings)
    return _Tree(street=street, communities=communities, grids=grids, dwellings=dwellings)


def _child(
    parent: Area,
    position: int,
    level: str,
    name: str,
    *,
    code: str = "",
    aliases: list[str] | None = None,
    floor: int | None = None,
) -> Area:
    """Returns an unsaved area at the n-th place under an already saved (or queued) parent."""
    return Area(
        parent=parent,
        level=level,
        name=name,
        code=code,
        aliases=aliases or [],
        floor=floor,
        path=parent.path + segment(position),
    )


def _create_residents(
    rng: random.Random,
    dwellings: list[Area],
    today: date,
    summary: DemoSummary,
    report: ProgressCallback,
) -> None:
    used_ids: set[str] = set()
    planned: list[tuple[Area, list[_Member]]] = []
    for dwelling in dwellings:
        draw = rng.random()
        if draw < VACANT_SHARE:
            summary.vacant_dwellings += 1
            continue
        rented = draw < VACANT_SHARE + RENTED_SHARE
        planned.append((dwelling, _plan_household(rng, today, rented=rented)))

    total_households = len(planned)
    total_people = sum(len(members) for _, members in planned)
    households: list[Household] = []
    for done, batch in _batches(planned, BATCH_SIZE):
        rows = []
        for dwelling, _ in batch:
            address = _address(dwelling)
            rows.append(
                Household(
                    dwelling=dwelling,
                    area_path=dwelling.path,
                    address_building=address.building,
                    address_dwelling=address.dwelling,
                )
            )
        households.extend(Household.objects.bulk_create(rows))
        report("households", done, total_households)

    residency: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    pending: list[tuple[Person, _Member]] = []
    created = 0

    def flush() -> None:
        nonlocal created
        Person.objects.bulk_create([person for person, _ in pending])
        tag_rows = []
        for person, member in pending:
            tag_rows.extend(
                PersonTag(person_id=person.pk, tag=tag, area_path=person.area_path)
                for tag in member.tags
            )
        PersonTag.objects.bulk_create(tag_rows)
        created += len(pending)
        pending.clear()
        report("residents", created, total_people)

    for household, (dwelling, members) in zip(households, planned, strict=True):
        address = _address(dwelling)
        for member in members:
            person = build_person(
                name=member.name,
                id_number=_unique_id_number(rng, member, used_ids),
                phone=member.phone,
                dwelling=dwelling,
                address=address,
                residency=member.residency,
                has_smartphone=member.has_smartphone,
                household=household,
                relation_to_head=member.relation,
            )
            pending.append((person, member))
            residency[member.residency] += 1
            tags.update(member.tags)
            summary.without_phone += not member.phone
            if len(pending) >= BATCH_SIZE:
                flush()
    if pending:
        flush()
    # One UPDATE with a correlated subquery instead of bulk_update: bulk_update's CASE WHEN
    # statements took ~20 s for 45,000 households on PostgreSQL, this takes well under one.
    if households:
        head = Person.objects.filter(
            household=OuterRef("pk"), relation_to_head=Relation.HEAD
        ).values("pk")[:1]
        Household.objects.filter(pk__gte=households[0].pk, pk__lte=households[-1].pk).update(
            head=Subquery(head)
        )
    report("heads", total_households, total_households)

    summary.households = total_households
    summary.residents = total_people
    summary.residency = dict(residency)
    summary.tags = {tag: tags[tag] for tag in VulnerableTag.values}


def _address(dwelling: Area) -> Address:
    """Returns the address as registry.services.address_of would, without a query."""
    unit = dwelling.parent
    building = unit.parent
    compound = building.parent
    return Address(building=compound.name + building.name, dwelling=unit.name + dwelling.name)


def _plan_household(rng: random.Random, today: date, *, rented: bool) -> list[_Member]:
    """Returns the members of one household, head first, with residency, phones and tags."""
    weights = RENTED_KINDS if rented else OWNED_KINDS
    kind = rng.choices(list(weights), weights=list(weights.values()))[0]
    if rented:
        base = Residency.FLOATING if rng.random() < 0.7 else Residency.RESIDENT
    else:
        base = Residency.REGISTERED if rng.random() < 0.8 else Residency.RESIDENT
    family = _Family(rng, today, base)

    if kind == "single_young":
        family.head(rng.randint(20, 40))
    elif kind == "single_middle":
        family.head(rng.randint(41, 64))
    elif kind == "elderly_alone":
        family.head(rng.randint(65, 95), sex=Sex.FEMALE if rng.random() < 0.65 else Sex.MALE)
    elif kind in ("couple_young", "couple_middle", "couple_elderly"):
        low, high = {"couple_young": (22, 40), "couple_middle": (41, 64)}.get(kind, (65, 90))
        family.couple(rng.randint(low, high))
    elif kind in ("nuclear_1", "nuclear_2"):
        head_age = rng.randint(26, 55)
        family.couple(head_age)
        first = _younger(rng, head_age, 23, 34)
        family.child(first)
        if kind == "nuclear_2" and first >= 2:
            family.child(_younger(rng, first, 2, 8))
    elif kind == "three_gen_parents":
        head_age = rng.randint(30, 50)
        family.couple(head_age)
        family.child(_younger(rng, head_age, 24, 34))
        parent_age = head_age + rng.randint(24, 32)
        family.parent(parent_age, Sex.FEMALE)
        if rng.random() < 0.5:
            family.parent(parent_age + rng.randint(0, 4), Sex.MALE)
    elif kind == "three_gen_grandchild":
        head_age = rng.randint(55, 78)
        family.couple(head_age)
        child_age = _younger(rng, head_age, 24, 32)
        family.child(child_age)
        family.grandchild(_younger(rng, child_age, 22, 32))
    elif kind == "single_parent":
        head_age = rng.randint(28, 50)
        family.head(head_age, sex=Sex.FEMALE if rng.random() < 0.75 else Sex.MALE)
        family.child(_younger(rng, head_age, 23, 34))
    else:  # "shared": young people renting a dwelling together
        family.head(rng.randint(20, 35))
        for _ in range(rng.randint(1, 2)):
            family.add(rng.randint(20, 35), rng.choice(Sex.values), Relation.NON_RELATIVE)

    for member in family.members:
        _assign_phone_and_tags(rng, member, today, alone=len(family.members) == 1)
    return family.members


class _Family:
    """Collects the members of a household; children share the father's surname."""

    def __init__(self, rng: random.Random, today: date, residency: str) -> None:
        self.rng = rng
        self.today = today
        self.residency = residency
        self.members: list[_Member] = []
        self.surname = ""

    def add(self, age: int, sex: str, relation: str, *, surname: str = "") -> _Member:
        rng = self.rng
        name = _given_name(rng, surname) if surname else person_name(rng)
        # A spouse or parent who moved in later is often only a resident, not registered.
        residency = self.residency
        if residency == Residency.REGISTERED and relation in (Relation.SPOUSE, Relation.PARENT):
            residency = Residency.REGISTERED if rng.random() < 0.8 else Residency.RESIDENT
        member = _Member(
            name=name,
            sex=sex,
            birth=_birth_date(rng, age, self.today),
            relation=relation,
            residency=residency,
            region=_region(rng, residency),
        )
        self.members.append(member)
        return member

    def head(self, age: int, sex: str | None = None) -> _Member:
        sex = sex or (Sex.MALE if self.rng.random() < 0.55 else Sex.FEMALE)
        member = self.add(age, sex, Relation.HEAD)
        self.surname = _surname_of(member.name)
        return member

    def couple(self, head_age: int) -> None:
        head = self.head(head_age, Sex.MALE if self.rng.random() < 0.7 else Sex.FEMALE)
        spouse_sex = Sex.FEMALE if head.sex == Sex.MALE else Sex.MALE
        # Husbands are usually a little older than their wives.
        gap = self.rng.randint(-1, 4)
        spouse_age = max(20, head_age - gap if head.sex == Sex.MALE else head_age + gap)
        spouse = self.add(spouse_age, spouse_sex, Relation.SPOUSE)
        if head.sex == Sex.FEMALE:
            self.surname = _surname_of(spouse.name)

    def child(self, age: int) -> None:
        self.add(age, self.rng.choice(Sex.values), Relation.CHILD, surname=self.surname)

    def parent(self, age: int, sex: str) -> None:
        # The head's father shares the surname; the mother keeps hers (as Chinese women do).
        surname = _surname_of(self.members[0].name) if sex == Sex.MALE else ""
        self.add(age, sex, Relation.PARENT, surname=surname)

    def grandchild(self, age: int) -> None:
        self.add(age, self.rng.choice(Sex.values), Relation.GRANDCHILD, surname=self.surname)


def _assign_phone_and_tags(
    rng: random.Random, member: _Member, today: date, *, alone: bool
) -> None:
    """Decides a member's phone, smartphone and vulnerable tags from their actual age.

    Tags follow the recorded birth date (not the age drawn), so they always agree with the
    ages the pages show.
    """
    age = age_on(member.birth, today)
    tags = member.tags
    if age < 3:
        tags.append(VulnerableTag.INFANT)
    if alone and age >= 65:
        tags.append(VulnerableTag.ELDERLY_ALONE)
    if member.sex == Sex.FEMALE and 20 <= age <= 40 and rng.random() < 0.06:
        tags.append(VulnerableTag.PREGNANT)
    if age >= 18 and rng.random() < (0.008 if age >= 50 else 0.002):
        tags.append(VulnerableTag.DIALYSIS)
    if rng.random() < (0.045 if age >= 60 else 0.012):
        tags.append(VulnerableTag.DISABLED)

    if age < 12:
        # Children are reached through their parents: no phone of their own, no tag.
        member.has_smartphone = False
        return
    if age < 18:
        if rng.random() < 0.7:
            member.phone = mobile_number(rng)
        else:
            member.has_smartphone = False
        return
    no_smartphone_chance = 0.5 if age >= 75 else 0.25 if age >= 65 else 0.08 if age >= 55 else 0.01
    if rng.random() < no_smartphone_chance:
        tags.append(VulnerableTag.NO_SMARTPHONE)
        member.has_smartphone = False
        draw = rng.random()
        if draw < 0.4:
            # A landline in Xi'an: area code 029 and eight digits.
            member.phone = f"0298{rng.randrange(10**7):07d}"
        elif draw < 0.75:
            member.phone = mobile_number(rng)  # a feature phone: calls and SMS only
    elif rng.random() < 0.97:
        member.phone = mobile_number(rng)
    # else: an adult whose number nobody has recorded yet


def _unique_id_number(rng: random.Random, member: _Member, used: set[str]) -> str:
    """Returns an ID number no other demo person has, with the member's sex encoded.

    The sequence's last digit is odd for men and even for women (GB 11643), so the
    sequence is drawn with the right parity until (region, birth date, sequence) is new.
    """
    odd = 1 if member.sex == Sex.MALE else 0
    while True:
        number = make_id_number(member.region, member.birth, rng.randrange(500) * 2 + odd)
        if number not in used:
            used.add(number)
            return number


def _region(rng: random.Random, residency: str) -> str:
    if residency == Residency.FLOATING:
        return rng.choice(OTHER_REGIONS) if rng.random() < 0.8 else rng.choice(SHAANXI_REGIONS)
    if residency == Residency.RESIDENT:
        draw = rng.random()
        if draw < 0.3:
            return HOME_REGION
        return (
            rng.choice(SHAANXI_REGIONS + XIAN_REGIONS) if draw < 0.7 else rng.choice(OTHER_REGIONS)
        )
    return HOME_REGION if rng.random() < 0.9 else rng.choice(XIAN_REGIONS)


def _younger(rng: random.Random, age: int, low: int, high: int) -> int:
    """Returns the age of someone born `low`–`high` years after a person of `age` (≥ 0).

    The gap is capped by the older person's age rather than clipping the result at zero,
    which would pile newborns up at age 0.
    """
    return age - rng.randint(min(low, age), max(min(low, age), min(high, age)))


def _birth_date(rng: random.Random, age: int, today: date) -> date:
    """Returns a birth date `age` years and 1–364 days before today (calendar years)."""
    try:
        anniversary = today.replace(year=today.year - age)
    except ValueError:  # 29 February in a year without one
        anniversary = today.replace(year=today.year - age, day=28)
    return anniversary - timedelta(days=rng.randrange(1, 365))


def _surname_of(name: str) -> str:
    return name[:2] if name[:2] in COMPOUND_SURNAMES else name[0]


def _given_name(rng: random.Random, surname: str) -> str:
    length = 1 if rng.random() < 0.35 else 2
    return surname + "".join(rng.choice(GIVEN_CHARS) for _ in range(length))


def _chinese_number(n: int) -> str:
    """Returns 1–99 in Chinese numerals (一, 十, 十二, 二十三)."""
    tens, ones = divmod(n, 10)
    if tens == 0:
        return CHINESE_DIGITS[ones]
    head = "十" if tens == 1 else CHINESE_DIGITS[tens] + "十"
    return head + (CHINESE_DIGITS[ones] if ones else "")


def _community_name(position: int) -> str:
    if position <= len(COMMUNITY_NAMES):
        return COMMUNITY_NAMES[position - 1]
    return f"小寨路第{position}社区"


def _compound_names(rng: random.Random, count: int) -> Iterator[tuple[str, list[str]]]:
    """Yields distinct compound names with aliases; a stem is an alias only while unique."""
    stems = list(COMPOUND_STEMS)
    rng.shuffle(stems)
    seen: set[str] = set()
    produced = 0
    round_ = 0
    while produced < count:
        for stem in stems:
            ending = rng.choice(COMPOUND_ENDINGS)
            name = stem + ending
            if round_ > 0:
                # Later rounds reuse stems, so they become later phases: 翠华花园二期.
                name = f"{stem}{ending}{_chinese_number(round_ + 1)}期"
            if name in seen:
                continue
            seen.add(name)
            aliases = [stem] if round_ == 0 else []
            if ending != "小区":
                aliases.append(stem + "小区")
            yield name, aliases
            produced += 1
            if produced >= count:
                return
        round_ += 1


def _usernames(shape: DemoShape) -> list[str]:
    grids = shape.communities * shape.grids_per_community
    return [
        *(f"grid{i}" for i in range(1, grids + 1)),
        *(f"lead{i}" for i in range(1, shape.communities + 1)),
        *FIXED_USERNAMES,
    ]


def _create_staff(rng: random.Random, tree: _Tree, report: ProgressCallback) -> list[str]:
    """Creates one account per role (grid workers per grid, leads per community) and admin."""
    street = tree.street
    district = street.parent
    city = district.parent
    plan: list[tuple[str, str, Area]] = [
        *((f"grid{i}", Role.GRID_WORKER, grid) for i, grid in enumerate(tree.grids, 1)),
        *((f"lead{i}", Role.COMMUNITY_LEAD, c) for i, c in enumerate(tree.communities, 1)),
        ("steward", Role.DATA_STEWARD, street),
        ("street", Role.STREET_OFFICER, street),
        ("district", Role.DISTRICT_OFFICER, district),
        ("city", Role.CITY_OFFICER, city),
        ("volunteer", Role.VOLUNTEER, tree.communities[0]),
    ]
    created = []
    for done, (username, role, area) in enumerate(plan, 1):
        create_staff_user(
            username=username,
            password=PASSWORD,
            role=role,
            areas=[area],
            display_name=f"{STAFF_TITLES[role]}{person_name(rng)}",
        )
        created.append(username)
        report("staff", done, len(plan) + 1)
    # accounts.services has no superuser function; Django's manager is the standard way.
    if not User.objects.filter(username="admin").exists():
        User.objects.create_superuser(
            username="admin", password=PASSWORD, email="", display_name="系统管理员"
        )
        created.append("admin")
    report("staff", len(plan) + 1, len(plan) + 1)
    return created


# ---------------------------------------------------------------------------------------------
# Screening in action (community 1), and a draft waiting in community 2

# The audit log keeps who recorded each door knock. The loader's own visits carry this user
# agent, so reset_demo can tell them from anything a person did with a demo account.
DEMO_USER_AGENT = "linli load_demo"
# What the audit log keeps of the loader's own writes (reset_demo recognises them by it).
DEMO_CONTEXT = AuditContext(user_agent=DEMO_USER_AGENT)
DAILY_CAMPAIGN = "每日健康监测"
ARRIVALS_CAMPAIGN = "来返人员排查"
LAUNCHED_AT = clock(7, 30)  # local time, this morning
DEADLINE_AT = clock(20, 0)  # local time, tomorrow
MIN_RUNNING = timedelta(hours=3)  # enough hours behind the campaign for a chart
ANSWERING_HOURS = timedelta(hours=12)  # people answer in the daytime
H5_ANSWERED = (0.55, 0.65)  # share of all targets answering through their link
H5_REFUSED = 0.012
H5_PARTIAL = 0.02  # closed the page after the first questions
PROXY_AGE = 70  # from this age a son or daughter often answers on the person's phone
DOOR_KNOCKED = 0.12  # share of each grid's listed households visited so far
NOT_AT_HOME = 0.2
CHILD_AGE = 14  # at the door a parent answers for a child

MEDICATION_DETAILS = (
    "需要买降压药（硝苯地平缓释片）",
    "需要买降糖药（二甲双胍）",
    "每周三次透析，需要车辆接送",
    "需要胰岛素，家里只剩三天的量",
    "需要买治疗冠心病的药",
)
HELP_DETAILS = (
    "家里没有菜了，需要送菜上门",
    "独居，腿脚不便，需要有人帮忙取药",
    "需要买婴儿奶粉和尿不湿",
    "老人行动不便，需要帮忙做核酸",
)


@dataclass
class DemoScreening:
    """What the screening step left for the demo: the running campaign and where it stands."""

    campaign: str = ""
    targets: int = 0
    reached: int = 0
    reached_h5: int = 0
    reached_door: int = 0
    proxy: int = 0
    refused: int = 0
    high_risk: int = 0
    follow_up_tasks: int = 0
    door_knock_list: int = 0
    draft: str = ""
    draft_by: str = ""


@dataclass(frozen=True)
class _Plan:
    """One H5 submission the demo makes: who, when, and with what."""

    target: CampaignTarget
    at: datetime
    outcome: str
    answers: dict[str, object]
    proxy: bool


def _create_screening(
    rng: random.Random, tree: _Tree, now: datetime, report: ProgressCallback
) -> DemoScreening:
    """Runs community 1's daily symptom campaign from this morning until `now` through the
    screening services, and leaves a draft arrivals campaign in community 2."""
    result = DemoScreening()
    community = tree.communities[0]
    if not Person.objects.filter(area_path__startswith=community.path).exists():
        return result  # a street too small to have anyone to screen
    lead = User.objects.get(username="lead1")
    daily = questionnaire_services.create_questionnaire(
        name=DAILY_CAMPAIGN,
        area=community,
        by=lead,
        from_template="daily_symptoms",
        context=DEMO_CONTEXT,
    )
    arrivals = questionnaire_services.create_questionnaire(
        name=ARRIVALS_CAMPAIGN,
        area=community,
        by=lead,
        from_template="arrivals",
        context=DEMO_CONTEXT,
    )
    local_now = timezone.localtime(now)
    emergency = f"{local_now:%Y-%m} 西安疫情"
    launched = timezone.make_aware(datetime.combine(local_now.date(), LAUNCHED_AT))
    if now - launched < MIN_RUNNING:
        # Loaded in the small hours, "this morning" has not come yet: the campaign went out
        # yesterday morning, so the chart still has a day behind it.
        launched -= timedelta(days=1)
    deadline = timezone.make_aware(
        datetime.combine(local_now.date() + timedelta(days=1), DEADLINE_AT)
    )
    campaign = campaign_services.create_campaign(
        name=DAILY_CAMPAIGN,
        questionnaire_version=questionnaire_selectors.latest_version(daily),
        area=community,
        by=lead,
        context=DEMO_CONTEXT,
        channels=[ChannelCode.H5, ChannelCode.DOOR_KNOCK],
        deadline=deadline,
        emergency=emergency,
    )
    campaign = campaign_services.launch_campaign(
        campaign=campaign, by=lead, now=launched, context=DEMO_CONTEXT
    )
    result.campaign = campaign.name

    plans = _plan_h5(rng, campaign, launched, now)
    grids = [g for g in tree.grids if g.path.startswith(community.path)]
    total = len(plans) + len(grids) + 1
    h5 = get_channel(ChannelCode.H5)
    for done, plan in enumerate(plans, 1):
        h5.collect(
            target=plan.target,
            outcome=plan.outcome,
            answers=plan.answers,
            by_proxy=plan.proxy,
            idempotency_key=f"demo:{campaign.pk}:{plan.target.pk}:h5",
            started_at=plan.at - timedelta(seconds=rng.randint(40, 180)),
            finished_at=plan.at,
        )
        if done % 200 == 0:
            report("screening", done, total)
    for done, grid in enumerate(grids, len(plans) + 1):
        _knock_doors(rng, campaign, grid, launched, now)
        report("screening", done, total)
    campaign_services.escalate_unreached(campaign=campaign, now=now)

    if len(tree.communities) > 1:
        # Community 1's questionnaires are not community 2's to use: its lead has their own.
        area, by = tree.communities[1], User.objects.get(username="lead2")
        arrivals = questionnaire_services.create_questionnaire(
            name=ARRIVALS_CAMPAIGN, area=area, by=by, from_template="arrivals", context=DEMO_CONTEXT
        )
    else:
        area, by = community, lead
    draft = campaign_services.create_campaign(
        name=f"{area.name}{ARRIVALS_CAMPAIGN}",
        questionnaire_version=questionnaire_selectors.latest_version(arrivals),
        area=area,
        by=by,
        context=DEMO_CONTEXT,
        channels=[ChannelCode.H5, ChannelCode.DOOR_KNOCK],
        filters={"residency": [Residency.FLOATING]},
        deadline=deadline + timedelta(days=2),
        emergency=emergency,
    )
    result.draft, result.draft_by = draft.name, by.username
    report("screening", total, total)
    _count_screening(campaign, result)
    return result


def _plan_h5(
    rng: random.Random, campaign: Campaign, launched: datetime, now: datetime
) -> list[_Plan]:
    """Returns the H5 submissions of the morning in the order they arrived: most of the
    people the link reaches answer (a rush after the texts went out, then a long tail), a few
    refuse, a few stop half-way."""
    candidates = list(
        CampaignTarget.objects.filter(campaign=campaign, status=TargetStatus.PENDING)
        .select_related("person")
        .order_by("pk")
    )
    wanted = round(rng.uniform(*H5_ANSWERED) * campaign.target_count)
    refusing = round(H5_REFUSED * campaign.target_count)
    chosen = rng.sample(candidates, min(len(candidates), wanted + refusing))
    today = timezone.localdate(now)
    window = min(now - launched, ANSWERING_HOURS).total_seconds() - 120
    plans = []
    for number, target in enumerate(chosen):
        # Beta(1.3, 3.5) peaks about an hour or two after the texts and tails off.
        at = launched + timedelta(seconds=60 + window * rng.betavariate(1.3, 3.5))
        if number >= wanted:
            plans.append(_Plan(target, at, AttemptOutcome.REFUSED, {}, False))
            continue
        age = age_on(target.person.birth_date, today)
        # Draw first, so the same seed draws the same numbers whoever has grown older.
        proxy = rng.random() < 0.45 and age >= PROXY_AGE
        answers = _daily_answers(rng, age)
        if rng.random() < H5_PARTIAL:
            answers = {k: answers[k] for k in ("temperature", "symptoms")}
        plans.append(_Plan(target, at, AttemptOutcome.ANSWERED, answers, proxy))
    plans.sort(key=lambda plan: (plan.at, plan.target.pk))
    return plans


def _daily_answers(rng: random.Random, age: int) -> dict[str, object]:
    """Returns one resident's answers to the daily symptom questionnaire: mostly well, a few
    with fever or other symptoms, older people more often short of medicine or help. Only
    the questions on the path the answers take are answered."""
    fever = rng.random() < 0.015
    if fever:
        temperature = round(rng.uniform(37.3, 38.9), 1)
        symptoms = ["fever", *rng.sample(["cough", "fatigue", "sore_throat"], rng.randint(0, 2))]
    else:
        temperature = round(min(37.2, max(35.8, rng.gauss(36.5, 0.25))), 1)
        symptoms = rng.sample(OTHER_SYMPTOMS, rng.randint(1, 2)) if rng.random() < 0.03 else []
    answers: dict[str, object] = {
        "temperature": temperature,
        "symptoms": symptoms or ["none"],
        "contact_confirmed": rng.random() < 0.004,
    }
    tested = rng.choices(["done", "not_yet", "not_required", ""], weights=[60, 18, 17, 5])[0]
    if tested:
        answers["tested_today"] = tested
    old = age >= 60
    answers["medication_needs"] = rng.random() < (0.05 if old else 0.008)
    if answers["medication_needs"] and rng.random() < 0.85:
        answers["medication_detail"] = rng.choice(MEDICATION_DETAILS)
    answers["needs_help"] = rng.random() < (0.025 if old else 0.005)
    if answers["needs_help"]:
        answers["help_detail"] = rng.choice(HELP_DETAILS)
    return answers


def _knock_doors(
    rng: random.Random, campaign: Campaign, grid: Area, launched: datetime, now: datetime
) -> None:
    """The grid's worker walks their door-knock list building by building from mid-morning,
    a few minutes per household, and records each listed member: answered at the door (a
    parent answers for a child) or nobody at home."""
    worker = User.objects.filter(role=Role.GRID_WORKER, areas=grid).order_by("pk").first()
    if worker is None:
        return
    listed = (
        CampaignTarget.objects.filter(
            campaign=campaign,
            area_path__startswith=grid.path,
            status=TargetStatus.NEEDS_DOOR_KNOCK,
        )
        .select_related("campaign__questionnaire_version", "person")
        .order_by("area_path", "pk")
    )
    households: dict[object, list[CampaignTarget]] = {}
    for target in listed:
        households.setdefault(target.household_id or ("p", target.person_id), []).append(target)
    visits = list(households.values())[: max(3, round(DOOR_KNOCKED * len(households)))]
    today = timezone.localdate(now)
    at = launched + min(timedelta(minutes=90), (now - launched) / 3)
    for members in visits:
        at += timedelta(minutes=rng.uniform(4, 11))
        if at >= now:
            return
        home = rng.random() >= NOT_AT_HOME
        for target in members:
            age = age_on(target.person.birth_date, today)
            answered = home and rng.random() < 0.97  # someone at home may still be out
            door_knock_services.record_door_knock(
                target=target,
                by=worker,
                outcome=AttemptOutcome.ANSWERED if answered else AttemptOutcome.NOT_AT_HOME,
                # Someone who asked for help through the link confirms what they said.
                answers={**_daily_answers(rng, age), **target.answers} if answered else None,
                by_proxy=answered and age < CHILD_AGE,
                idempotency_key=f"demo:{campaign.pk}:{target.pk}:door",
                recorded_at=at,
                started_at=at - timedelta(minutes=2),
                device="demo",
                context=DEMO_CONTEXT,
                now=now,
            )


def _count_screening(campaign: Campaign, result: DemoScreening) -> None:
    targets = CampaignTarget.objects.filter(campaign=campaign)
    result.targets = targets.count()
    result.reached = targets.filter(reached_at__isnull=False).count()
    result.reached_h5 = targets.filter(answered_via=ChannelCode.H5).count()
    result.reached_door = targets.filter(answered_via=ChannelCode.DOOR_KNOCK).count()
    result.proxy = targets.filter(answered_by_proxy=True).count()
    result.refused = targets.filter(status=TargetStatus.REFUSED).count()
    result.high_risk = targets.filter(risk_level=RiskLevel.HIGH).count()
    result.follow_up_tasks = FollowUpTask.objects.filter(campaign=campaign).count()
    result.door_knock_list = targets.filter(status=TargetStatus.NEEDS_DOOR_KNOCK).count()


def _batches(items: list[T], size: int) -> Iterable[tuple[int, list[T]]]:
    """Yields (items done after this batch, batch)."""
    iterator = iter(items)
    done = 0
    while batch := list(islice(iterator, size)):
        done += len(batch)
        yield done, batch


def reset_demo() -> None:
    """Deletes the demo street, its residents, its screening and the demo accounts, in one
    transaction.

    The audit log is append-only (a PostgreSQL trigger refuses deletes) and keeps its actors,
    so a demo account that has appeared in the log as an actor cannot be removed. Raises
    DemoError when one has done anything there besides the visits the loader itself recorded
    for it (DEMO_USER_AGENT), or when other records still refer to the demo areas; nothing is
    deleted then. An account whose only history is the loader's is retired instead: renamed
    and deactivated, as accounts with a history are, so its log entries keep their actor.
    """
    city = Area.objects.filter(code=CITY_CODE, level=AreaLevel.CITY).first()
    grid_and_lead = User.objects.filter(username__regex=r"^(grid|lead)[0-9]+$")
    demo_users = User.objects.filter(username__in=FIXED_USERNAMES) | grid_and_lead
    acted = AuditEvent.objects.filter(actor__in=demo_users).exclude(user_agent=DEMO_USER_AGENT)
    if acted.exists():
        raise DemoError(
            both_languages(
                gettext_lazy(
                    "the demo accounts appear in the audit log as actors (%(events)s events), "
                    "and the log is append-only, so --reset cannot remove them. Start from an "
                    "empty database instead (SQLite: delete var/linli.sqlite3; PostgreSQL: drop "
                    "and create the database), then run migrate and load_demo."
                ),
                {"events": acted.count()},
            )
        )
    try:
        with transaction.atomic():
            if city is not None:
                # First: campaigns and questionnaires keep their creators and people.
                _delete_screening(city.path)
            _retire(demo_users.filter(Exists(AuditEvent.objects.filter(actor=OuterRef("pk")))))
            demo_users.delete()
            if city is None:
                return
            root = city.path
            AreaAssignment.objects.filter(area__path__startswith=root).delete()
            PersonTag.objects.filter(area_path__startswith=root).delete()
            # Clear the head links first so deleting people does not update households one
            # by one.
            Household.objects.filter(area_path__startswith=root).update(head=None)
            Person.objects.filter(area_path__startswith=root).delete()
            Household.objects.filter(area_path__startswith=root).delete()
            # Parents are protected while they have children: delete from the leaves up.
            for level in reversed(LEVEL_ORDER):
                Area.objects.filter(path__startswith=root, level=level).delete()
    except ProtectedError as error:
        kinds = sorted({obj._meta.verbose_name for obj in error.protected_objects})
        raise DemoError(
            both_languages(
                gettext_lazy(
                    "other records still refer to the demo data: %(kinds)s. Start from an "
                    "empty database instead."
                ),
                {"kinds": ", ".join(str(kind) for kind in kinds)},
            )
        ) from error


def _delete_screening(root: str) -> None:
    """Deletes the campaigns, targets, attempts, follow-up tasks and questionnaires of the
    demo areas, children first so each delete is one statement."""
    campaigns = Campaign.objects.filter(area_path__startswith=root)
    FollowUpTask.objects.filter(campaign__in=campaigns).delete()
    ContactAttempt.objects.filter(campaign__in=campaigns).delete()
    CampaignTarget.objects.filter(campaign__in=campaigns).delete()
    campaigns.delete()
    Questionnaire.objects.filter(area_path__startswith=root).delete()


def _retire(users) -> None:
    """Renames and deactivates demo accounts whose only history is the loader's, freeing
    their names for the next demo; the log keeps both the account and the name it had."""
    for user in users:
        old = user.username
        user.username = f"{old}.retired.{user.pk}"
        user.is_active = False
        user.set_unusable_password()
        user.save(update_fields=["username", "is_active", "password"])
        AreaAssignment.objects.filter(user=user).delete()
        record_event(
            action=AccountAction.PERMISSION_CHANGE,
            actor_username="load_demo",
            object_type="user",
            object_id=user.pk,
            object_label=user.username,
            detail={"change": "retire", "username": old},
        )
