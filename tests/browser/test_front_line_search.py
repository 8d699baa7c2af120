"""Issue 12, item 2: one search box that reads what is typed and never puts an identifier
in a URL, told through a real browser (Debian's Chromium) at 390 px."""

import pytest
from playwright.sync_api import expect

from linli.areas.models import AreaLevel
from linli.areas.services import create_area
from linli.core.idnumbers import make_id_number
from linli.demo.factories import make_resident

pytestmark = pytest.mark.browser

PEOPLE = "/registry/people/"


def _chunxiao(world):
    """春晓公寓 in the grid worker's grid: 1号楼1单元101室, and 11号楼1单元101室 next door."""
    compound = create_area(parent=world.a.grid, level=AreaLevel.COMPOUND, name="春晓公寓")
    people = {}
    for building, name, sequence in (("1号楼", "赵春晓", 701), ("11号楼", "钱十一", 703)):
        b = create_area(parent=compound, level=AreaLevel.BUILDING, name=building)
        u = create_area(parent=b, level=AreaLevel.UNIT, name="1单元")
        dwelling = create_area(parent=u, level=AreaLevel.DWELLING, name="101室")
        people[name] = make_resident(
            dwelling=dwelling, name=name, phone=f"1371111{sequence:04d}", sequence=sequence
        )
    return people


def test_grid_worker_types_an_id_number_or_a_displayed_address_into_the_one_box(story, screenshot):
    """A grid worker types 张三丰's full ID number into the search box of 居民 at 390 px and
    presses Enter: 张三丰 is found, and neither the address bar nor any request the server
    received (its access log's path and query) ever held the number. Then they type the
    address exactly as the list shows it, 春晓公寓1号楼1单元101室, and its tail 1号楼1单元101室:
    赵春晓 is found, 钱十一 of 11号楼 is not."""
    world = story.world
    _chunxiao(world)
    full_id = make_id_number("610113", world.resident_a.birth_date, 123)
    page = story.log_in(world.grid_a, mobile=True)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(PEOPLE)
    box = page.get_by_test_id("search-box")
    # As people type it: in groups, with a lower-case x where there is one.
    box.fill(f"{full_id[:6]} {full_id[6:14]} {full_id[14:].lower()}")
    box.press("Enter")
    expect(page.locator("table.stack")).to_contain_text("张三丰")
    expect(page.locator("table.stack")).not_to_contain_text("李秀英")
    assert full_id not in page.url and full_id[-8:] not in page.url
    assert requested and not [url for url in requested if full_id[-8:] in url]
    assert full_id not in page.content()

    for typed in ("春晓公寓1号楼1单元101室", "1号楼1单元101室"):
        box = page.get_by_test_id("search-box")
        box.fill(typed)
        box.press("Enter")
        expect(page.get_by_test_id("result-count")).to_be_visible()
        expect(page.locator("table.stack")).to_contain_text("赵春晓")
        expect(page.locator("table.stack")).not_to_contain_text("钱十一")
        if typed.startswith("春晓"):
            expect(page.locator("table.stack tbody tr")).to_have_count(1)
            screenshot(page, "front-line-search.png")
    # The hidden ID and phone fields under 更多筛选 are gone; the other filters stay.
    expect(page.locator("input[name=id_number], input[name=phone]")).to_have_count(0)
    expect(page.locator("select[name=residency]")).to_have_count(1)
    expect(page.locator("main, body").first).not_to_contain_text("{#")
    story.assert_no_problems()
