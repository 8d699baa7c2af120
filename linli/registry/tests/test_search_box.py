"""One search box that reads what is typed (issue 12, item 2): a name, an address or its
tail in any of the spellings departments and people use, the last four digits of a phone or
ID number, a masked ID, a full ID number or phone — and never puts a full identifier in a URL."""

from dataclasses import dataclass
from datetime import date

import pytest
from django.urls import reverse

from linli.areas.models import Area, AreaLevel
from linli.areas.services import create_area
from linli.audit.models import AuditEvent
from linli.core.idnumbers import make_id_number
from linli.demo.factories import make_resident
from linli.registry import selectors
from linli.registry.models import Household, Person, RegistryAction

ID_ZHANG = make_id_number("610113", date(1980, 5, 17), 123)  # 张三丰, world.resident_a


@dataclass
class Chunxiao:
    near: Person  # 春晓公寓1号楼1单元101室
    far: Person  # 春晓公寓11号楼1单元101室: "1号楼…101室" must not find this one
    upper: Person  # 春晓公寓1号楼1单元1101室: nor this one
    odd: Person  # stored the way some departments write: 春晓公寓2栋 · 3门502号
    lettered: Person  # 春晓公寓A座 · 1单元1203室, ID ending in X


def _dwelling(compound: Area, building: str, unit: str, room: str) -> Area:
    b = Area.objects.filter(parent=compound, name=building).first() or create_area(
        parent=compound, level=AreaLevel.BUILDING, name=building
    )
    u = Area.objects.filter(parent=b, name=unit).first() or create_area(
        parent=b, level=AreaLevel.UNIT, name=unit
    )
    return create_area(parent=u, level=AreaLevel.DWELLING, name=room)


@pytest.fixture
def chunxiao(world) -> Chunxiao:
    compound = create_area(parent=world.a.grid, level=AreaLevel.COMPOUND, name="春晓公寓")
    x_birth, x_sequence = next(
        (date(1975, 1, d), s)
        for d in range(1, 29)
        for s in range(100, 999)
        if make_id_number("610113", date(1975, 1, d), s).endswith("X")
    )
    return Chunxiao(
        near=make_resident(
            dwelling=_dwelling(compound, "1号楼", "1单元", "101室"),
            name="赵春晓",
            phone="13711112222",
            sequence=701,
        ),
        far=make_resident(
            dwelling=_dwelling(compound, "11号楼", "1单元", "101室"),
            name="钱十一",
            phone="13711113333",
            sequence=703,
        ),
        upper=make_resident(
            dwelling=_dwelling(compound, "1号楼", "1单元", "1101室"),
            name="孙高层",
            phone="13711114444",
            sequence=705,
        ),
        odd=make_resident(
            dwelling=_dwelling(compound, "2栋", "3门", "502号"),
            name="李二栋",
            phone="13711115555",
            sequence=707,
        ),
        lettered=make_resident(
            dwelling=_dwelling(compound, "A座", "1单元", "1203室"),
            name="周字母",
            phone="13711116666",
            birth=x_birth,
            sequence=x_sequence,
        ),
    )


def found(user, text: str) -> set[str]:
    return set(
        selectors.people_for(user, selectors.PersonFilters(q=text)).values_list("name", flat=True)
    )


@pytest.mark.parametrize(
    "text",
    [
        "春晓公寓1号楼1单元101室",
        "1号楼1单元101室",
        "春晓公寓1-1-101",
        "1-1-101",
        "1栋1单元101",
        "1幢1门101号",
        "１号楼１单元１０１室",  # full-width digits
        " 1号楼 1单元 101室 ",  # spaces
        "1 1 101",
        "春晓公寓 1栋 1-101",
    ],
)
def test_an_address_or_its_tail_finds_exactly_that_dwelling(world, chunxiao, text):
    # 张三丰 and 李秀英 live at 翠华小区1号楼1单元101室: the same tail in another compound.
    expected = {"赵春晓"} if "春晓" in text else {"赵春晓", "张三丰", "李秀英"}
    assert found(world.grid_a, text) == expected


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("2号楼3单元502室", {"李二栋"}),  # stored as 2栋 · 3门502号
        ("2-3-502", {"李二栋"}),
        ("502", {"李二栋"}),  # a room number alone
        ("A座1单元1203室", {"周字母"}),
        ("a座1203", {"周字母"}),
        ("11号楼", {"钱十一"}),
        ("春晓公寓1号楼", {"赵春晓", "孙高层"}),
        ("春晓公寓101室", {"赵春晓", "钱十一"}),
        ("春晓公寓", {"赵春晓", "钱十一", "孙高层", "李二栋", "周字母"}),
        ("赵春", {"赵春晓"}),  # a name still works
    ],
)
def test_other_address_shapes_and_names(world, chunxiao, text, names):
    assert found(world.grid_a, text) == names


def test_last_four_digits_of_a_phone_or_an_id_and_masked_ids(world, chunxiao):
    assert found(world.grid_a, "2222") == {"赵春晓"}
    x_id = chunxiao.lettered.id_number_masked
    assert found(world.grid_a, x_id[-4:].lower()) == {"周字母"}  # lower-case x
    assert found(world.grid_a, x_id) == {"周字母"}
    assert found(world.grid_a, chunxiao.near.phone_masked) == {"赵春晓"}


@pytest.mark.parametrize(
    "typed",
    [
        ID_ZHANG,
        ID_ZHANG.lower(),
        f"{ID_ZHANG[:6]} {ID_ZHANG[6:14]} {ID_ZHANG[14:]}",
        ID_ZHANG.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        "13812345678",
        "138 1234 5678",
        "+86 138-1234-5678",
    ],
)
def test_a_full_identifier_typed_in_the_box_is_posted_hashed_found_and_audited(
    world, client_for, typed
):
    client = client_for(world.grid_a)
    response = client.post(reverse("registry:people"), {"q": typed, "tag": ""})
    assert response.status_code == 302
    location = response["Location"]
    digits = "".join(c for c in typed if c.isdigit())
    assert digits[-8:] not in location and "q=" not in location
    page = client.get(location)
    body = page.content.decode()
    assert "张三丰" in body and "李秀英" not in body
    assert digits[-8:] not in body  # nor in the box, the pagination links or anywhere
    [event] = AuditEvent.objects.filter(action=RegistryAction.SEARCH_IDENTIFIER)
    assert event.detail["matches"] == 1


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("张三丰 13812345678", True),
        ("13812345678　张三丰", True),  # a full-width space, the number first
        (f"张三丰{ID_ZHANG}", True),
        ("李秀英 138 1234 5678", False),  # the number is 张三丰's: both must hold
    ],
)
def test_a_name_typed_beside_a_full_number_keeps_the_number_out_of_the_url(
    world, client_for, typed, found
):
    client = client_for(world.grid_a)
    response = client.post(reverse("registry:people"), {"q": typed})
    assert response.status_code == 302
    location = response["Location"]
    assert "12345678" not in location and ID_ZHANG[-8:] not in location
    assert "id_key=" in location or "phone_key=" in location
    body = client.get(location).content.decode()
    assert ("张三丰" in body) is found
    assert "12345678" not in body and ID_ZHANG[-8:] not in body
    assert AuditEvent.objects.filter(action=RegistryAction.SEARCH_IDENTIFIER).count() == 1


def test_a_mistyped_full_number_stays_out_of_the_url_too(world, client_for):
    client = client_for(world.grid_a)
    wrong = ID_ZHANG[:-1] + ("0" if ID_ZHANG[-1] != "0" else "1")  # bad check digit
    location = client.post(reverse("registry:people"), {"q": wrong})["Location"]
    assert wrong not in location and wrong[-8:] not in location
    assert "张三丰" not in client.get(location).content.decode()


def test_a_full_identifier_arriving_in_a_url_is_redirected_to_its_hash(world, client_for):
    response = client_for(world.grid_a).get(reverse("registry:people"), {"q": ID_ZHANG})
    assert response.status_code == 302
    assert ID_ZHANG not in response["Location"] and "id_key=" in response["Location"]


def test_other_filters_and_an_address_search_stay_in_the_url(world, client_for, chunxiao):
    client = client_for(world.grid_a)
    response = client.post(reverse("registry:people"), {"q": "1号楼1单元101室", "residency": ""})
    assert response.status_code == 302
    body = client.get(response["Location"]).content.decode()
    assert "赵春晓" in body and "钱十一" not in body


def test_the_page_has_one_box_and_an_honest_hint(world, client_for):
    body = client_for(world.grid_a).get(reverse("registry:people"), {"q": "无此人"}).content
    body = body.decode()
    assert 'name="id_number"' not in body and 'name="phone"' not in body
    assert 'name="residency"' in body  # the other filters stay under 更多筛选
    assert "{#" not in body and "comment" not in body
    assert "其他片段不会被搜索" not in body  # the old hint invited typing an ID into the box
    assert "地址或其末尾" in body and "身份证号后四位" in body


def test_households_are_found_by_address_tail_and_head(world, client_for, chunxiao):
    def households(text):
        return set(
            selectors.households_for(world.grid_a, q=text).values_list("head__name", flat=True)
        )

    assert households("1号楼1单元101室") == {"赵春晓", "张三丰"}  # 张三丰: 翠华小区
    assert households("春晓公寓1-1-101") == {"赵春晓"}
    assert households("2号楼3单元502室") == {"李二栋"}
    assert households("钱十") == {"钱十一"}
    body = client_for(world.grid_a).get(reverse("registry:households"), {"q": "1-1-101"})
    assert Household.objects.count() >= 5 and "春晓公寓1号楼" in body.content.decode()


def test_the_household_box_is_posted_and_sends_a_full_identifier_to_the_residents(
    world, client_for, chunxiao
):
    client = client_for(world.grid_a)
    response = client.post(reverse("registry:households"), {"q": "1-1-101"})
    assert response.status_code == 302 and "q=1-1-101" in response["Location"]
    response = client.post(reverse("registry:households"), {"q": ID_ZHANG})
    location = response["Location"]
    assert location.startswith(reverse("registry:people")) and ID_ZHANG not in location
    assert "张三丰" in client.get(location).content.decode()


def test_changing_a_filter_keeps_the_hashed_number_and_typing_anew_replaces_it(
    world, client_for, chunxiao
):
    client = client_for(world.grid_a)
    location = client.post(reverse("registry:people"), {"q": ID_ZHANG})["Location"]
    body = client.get(location).content.decode()
    assert 'name="id_key"' in body and ID_ZHANG not in body
    id_key = location.split("id_key=")[1]
    # Only the filter changes: the hidden hash goes with it.
    kept = client.post(reverse("registry:people"), {"q": "", "id_key": id_key, "tag": "dialysis"})
    assert f"id_key={id_key}" in kept["Location"] and "tag=dialysis" in kept["Location"]
    # Something new in the box replaces the number searched before.
    fresh = client.post(reverse("registry:people"), {"q": "1-1-101", "id_key": id_key})
    assert "id_key" not in fresh["Location"]
    assert "赵春晓" in client.get(fresh["Location"]).content.decode()
