"""A bigger community A for screening: a second grid with two buildings, floating residents,
a resident without a phone and a merged duplicate file.

Community A after `town` (besides conftest.world's 张三丰 and 李秀英 in grid 1):

- grid 2 (第二网格) → 幸福小区 → 2号楼 (rooms on floors 5 and 2, created in that order) and
  3号楼 (floor 1)
- 2号楼 501: 王小明 (floating, head) and 王小红 (floating, his daughter)
- 2号楼 201: 赵大爷 (registered, no phone at all)
- 3号楼 101: 钱阿姨 (resident, no smartphone)
- a duplicate file of 张三丰 merged into him (never targeted)
"""

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.utils import timezone

from linli.areas.models import AreaLevel
from linli.areas.services import create_area
from linli.core.roles import Role
from linli.demo.factories import make_staff
from linli.registry.models import Person, Relation, Residency
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.screening.tests.builders import add_person, draft


@dataclass
class Town:
    grid2: object
    building2: object
    building3: object
    room_501: object
    room_201: object
    room_101: object
    floating_head: object
    floating_child: object
    no_phone: object
    no_smartphone: object
    merged: object


@pytest.fixture
def town(world) -> Town:
    grid2 = create_area(parent=world.a.community, level=AreaLevel.GRID, name="第二网格")
    compound = create_area(parent=grid2, level=AreaLevel.COMPOUND, name="幸福小区")
    building2 = create_area(parent=compound, level=AreaLevel.BUILDING, name="2号楼")
    unit2 = create_area(parent=building2, level=AreaLevel.UNIT, name="1单元")
    room_501 = create_area(parent=unit2, level=AreaLevel.DWELLING, name="501室", floor=5)
    room_201 = create_area(parent=unit2, level=AreaLevel.DWELLING, name="201室", floor=2)
    building3 = create_area(parent=compound, level=AreaLevel.BUILDING, name="3号楼")
    unit3 = create_area(parent=building3, level=AreaLevel.UNIT, name="1单元")
    room_101 = create_area(parent=unit3, level=AreaLevel.DWELLING, name="101室", floor=1)
    floating_head = add_person(
        room_501, "王小明", 301, phone="13700000001", residency=Residency.FLOATING
    )
    floating_child = add_person(
        room_501,
        "王小红",
        302,
        phone="13700000002",
        household=floating_head.household,
        relation=Relation.CHILD,
        residency=Residency.FLOATING,
        birth=date(2010, 6, 1),
    )
    no_phone = add_person(room_201, "赵大爷", 303, birth=date(1938, 3, 3))
    no_smartphone = add_person(
        room_101,
        "钱阿姨",
        304,
        phone="13700000004",
        residency=Residency.RESIDENT,
        has_smartphone=False,
    )
    merged = add_person(world.a.dwellings[1], "张三丰", 305, phone="13812345678")
    Person.objects.filter(pk=merged.pk).update(merged_into=world.resident_a)
    return Town(
        grid2=grid2,
        building2=building2,
        building3=building3,
        room_501=room_501,
        room_201=room_201,
        room_101=room_101,
        floating_head=floating_head,
        floating_child=floating_child,
        no_phone=no_phone,
        no_smartphone=no_smartphone,
        merged=merged,
    )


@pytest.fixture
def running(world):
    """A running daily-symptom campaign over community A (H5, phone robot and door knock),
    deadline in a day: targets 张三丰 and 李秀英. (test_h5 and test_translations define a
    `running` of their own.)"""
    questionnaire = questionnaire_services.create_questionnaire(
        name="每日健康监测", area=world.a.community, by=world.lead_a, from_template="daily_symptoms"
    )
    campaign = draft(
        world,
        questionnaire,
        channels=["h5", "phone", "door_knock"],
        deadline=timezone.now() + timedelta(days=1),
    )
    return campaign_services.launch_campaign(campaign=campaign, by=world.lead_a)


@pytest.fixture
def grid2_worker(town):
    """The grid worker of community A's second grid (town.grid2)."""
    return make_staff(username="grid_a2", role=Role.GRID_WORKER, areas=[town.grid2])
