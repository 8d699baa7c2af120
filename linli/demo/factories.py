"""Building blocks shared by the demo community and the tests (factories, not fixtures).

Everything goes through the same services the product uses, so the demo and the tests
exercise the real write paths.
"""

import random
from dataclasses import dataclass
from datetime import date

from linli.accounts.models import User
from linli.accounts.services import create_staff_user
from linli.areas.models import Area, AreaLevel
from linli.areas.services import create_area
from linli.core.idnumbers import make_id_number
from linli.registry.models import Household, Person, Relation, Residency
from linli.registry.services.people import create_household, register_person

# Common surnames roughly by frequency, and given-name characters.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙"
    "史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛")
GIVEN_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红鹏辉建华玲飞鑫波宁浩凯"
    "斌俊峰旭晨宇欣怡梓涵子轩雨桐思远佳琪嘉豪博文一诺浩然梦琪晓东志强海燕春梅国庆建国淑珍"
)
MOBILE_PREFIXES = ("138", "139", "135", "136", "137", "150", "151", "158", "186", "187", "199")
PASSWORD = "linli-demo-2026"  # noqa: S105  (demo and test accounts only, printed by make run)


def person_name(rng: random.Random) -> str:
    surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.01 else rng.choice(SURNAMES)
    given = "".join(rng.choice(GIVEN_CHARS) for _ in range(1 if rng.random() < 0.35 else 2))
    return surname + given


def mobile_number(rng: random.Random) -> str:
    prefix = rng.choice(
        ("138", "139", "135", "136", "137", "150", "151", "158", "186", "187", "177", "199")
    )
    return prefix + f"{rng.randrange(10**8):08d}"


@dataclass
class CommunitySketch:
    """A small community: grid → compound → building → unit → dwellings."""

    community: Area
    grid: Area
    compound: Area
    building: Area
    unit: Area
    dwellings: list[Area]


def make_admin_chain(
    *, city: str = "西安市", district: str = "雁塔区", street: str = "小寨路街道"
) -> tuple[Area, Area, Area]:
    """Returns (city, district, street) with official division codes."""
    city_area = create_area(parent=None, level=AreaLevel.CITY, name=city, code="610100000000")
    district_area = create_area(
        parent=city_area, level=AreaLevel.DISTRICT, name=district, code="610113000000"
    )
    street_area = create_area(
        parent=district_area, level=AreaLevel.STREET, name=street, code="610113001000"
    )
    return city_area, district_area, street_area


def make_community(
    *, street: Area, name: str, code: str, compound: str = "翠华小区", dwellings: int = 4
) -> CommunitySketch:
    community = create_area(parent=street, level=AreaLevel.COMMUNITY, name=name, code=code)
    grid = create_area(parent=community, level=AreaLevel.GRID, name="第一网格")
    compound_area = create_area(parent=grid, level=AreaLevel.COMPOUND, name=compound)
    building = create_area(parent=compound_area, level=AreaLevel.BUILDING, name="1号楼")
    unit = create_area(parent=building, level=AreaLevel.UNIT, name="1单元")
    rooms = [
        create_area(
            parent=unit,
            level=AreaLevel.DWELLING,
            name=f"{floor}0{n}室",
            floor=floor,
        )
        for floor, n in [(1 + i // 2, 1 + i % 2) for i in range(dwellings)]
    ]
    return CommunitySketch(community, grid, compound_area, building, unit, rooms)


def make_staff(*, username: str, role: str, areas: list[Area], display_name: str = "") -> User:
    return create_staff_user(
        username=username,
        password=PASSWORD,
        role=role,
        areas=areas,
        display_name=display_name or username,
    )


def make_resident(
    *,
    dwelling: Area,
    name: str,
    household: Household | None = None,
    relation: str = Relation.HEAD,
    birth: date = date(1980, 5, 17),
    sequence: int = 1,
    phone: str = "13800138000",
    tags: list[str] = (),
    residency: str = Residency.REGISTERED,
    has_smartphone: bool = True,
) -> Person:
    """Creates a resident with a valid ID number derived from birth date and sequence."""
    if household is None:
        household = create_household(dwelling=dwelling, by=None)
    person = register_person(
        name=name,
        id_number=make_id_number("610113", birth, sequence),
        phone=phone,
        dwelling=dwelling,
        household=household,
        relation_to_head=relation,
        residency=residency,
        has_smartphone=has_smartphone,
        tags=list(tags),
        by=None,
    )
    if relation == Relation.HEAD and household.head_id is None:
        household.head = person
        household.save(update_fields=["head"])
    return person
