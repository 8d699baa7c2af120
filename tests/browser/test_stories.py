"""What staff do in Linli, told through a real browser (Debian's Chromium).

Labels change with translations, so the stories find things by URL, data-testid and the
residents' own (Chinese) names; only the nav label 居民 checks the Chinese catalogue itself.
"""

import re

import pytest
from django.conf import settings
from django.utils import translation
from playwright.sync_api import expect

from linli.audit.models import AuditAction, AuditEvent
from linli.core.idnumbers import make_id_number

pytestmark = pytest.mark.browser

PEOPLE = "/registry/people/"


def nav_link(page, path: str):
    return page.locator(f"nav.mainnav a[href='{path}']")


def purpose_label(key: str, language: str = "zh-hans") -> str:
    with translation.override(language):
        return str(dict(settings.LINLI_REVEAL_PURPOSES)[key])


def assert_fits_width(page) -> None:
    """Nothing sticks out sideways: neither the page nor a table inside its scroller."""
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    overflowing = page.evaluate(
        "[...document.querySelectorAll('.resp-table, table')]"
        ".filter(el => el.scrollWidth > el.clientWidth + 1).length"
    )
    assert overflowing == 0


def test_grid_worker_finds_a_resident_and_reveals_an_id_number_for_a_stated_purpose(
    story, screenshot
):
    """A grid worker logs in and lands on the home page in Chinese. They walk the area tree
    from their grid down to a dwelling, seeing who is in charge, then search residents by name
    and open 张三丰's file: the ID number shows as 6101**********NNNN and the phone as
    138****5678. Choosing a purpose and pressing 显示完整 swaps in the full 18-character ID
    number, and the data steward then finds that reveal, with its purpose, in the audit log.
    """
    world = story.world
    page = story.log_in(world.grid_a, screenshot=screenshot)
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(nav_link(page, PEOPLE)).to_have_text("居民")

    # The area tree: the grid worker's root is their grid; they walk down to a dwelling.
    nav_link(page, "/registry/areas/").click()
    expect(page).to_have_url(story.url(f"/registry/areas/{world.a.grid.pk}/"))
    expect(page.locator("h1")).to_contain_text("第一网格")
    expect(page.locator("dl.facts")).to_contain_text(str(world.grid_a))
    for name in ("翠华小区", "1号楼", "1单元", "101室"):
        page.locator("table").get_by_role("link", name=name, exact=True).click()
        expect(page.locator("h1")).to_contain_text(name)
    expect(page).to_have_url(story.url(f"/registry/areas/{world.a.dwellings[0].pk}/"))
    crumbs = page.locator(".crumbs")
    expect(crumbs.get_by_role("link", name="第一网格")).to_be_visible()
    expect(crumbs).to_contain_text("长延堡社区")  # above their jurisdiction: shown, not a link
    expect(crumbs.get_by_role("link", name="长延堡社区")).to_have_count(0)
    residents_here = page.locator(f"dl.facts a[href^='{PEOPLE}?area=']")
    expect(residents_here).to_have_text("2")

    # Everyone of the grid, then a search by name.
    nav_link(page, PEOPLE).click()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(story.residents["长延堡社区"])
    expect(page.locator("table")).to_contain_text("138****5678")
    expect(page.locator("table")).not_to_contain_text("13812345678")
    expect(page.locator("table")).not_to_contain_text("王五")
    screenshot(page, "people.png")
    page.locator("form.filters input[name=q]").fill("张")
    page.locator("form.filters button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"[?&]q=%E5%BC%A0"))
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("张三丰")
    expect(page.locator("table")).not_to_contain_text("李秀英")
    expect(page.get_by_test_id("result-count")).to_contain_text("1")

    # 张三丰's file, masked.
    rows.get_by_role("link", name="张三丰").click()
    expect(page).to_have_url(story.url(f"{PEOPLE}{world.resident_a.pk}/"))
    expect(page.get_by_test_id("person-name")).to_have_text("张三丰")
    full_id = make_id_number("610113", world.resident_a.birth_date, 123)
    assert len(full_id) == 18
    expect(page.get_by_test_id("id_number")).to_have_text(
        re.compile(rf"^6101\*{{10}}{re.escape(full_id[-4:])}$")
    )
    expect(page.get_by_test_id("phone")).to_have_text("138****5678")
    expect(page.locator("main")).not_to_contain_text(full_id)
    screenshot(page, "person.png")

    # Reveal the ID number for a stated purpose (htmx swaps the value in place).
    page.get_by_test_id("purpose-id_number").select_option("verify_identity")
    page.locator("#reveal-id_number button[type=submit]").click()
    expect(page.get_by_test_id("revealed-id_number")).to_have_text(full_id)
    expect(page).to_have_url(story.url(f"{PEOPLE}{world.resident_a.pk}/"))  # no navigation
    expect(page.get_by_test_id("phone")).to_have_text("138****5678")
    screenshot(page, "person-revealed.png")
    event = AuditEvent.objects.get(action=AuditAction.REVEAL)
    assert (event.actor, event.field, event.purpose) == (
        world.grid_a,
        "id_number",
        "verify_identity",
    )

    # The data steward, in their own browser, reads the reveal in the audit log.
    steward = story.log_in(world.steward_a)
    nav_link(steward, "/audit/").click()
    expect(steward).to_have_url(story.url("/audit/"))
    events = steward.get_by_test_id("audit-table").locator("tbody tr")
    reveals = events.filter(has_text=purpose_label("verify_identity"))
    expect(reveals).to_have_count(1)
    expect(reveals).to_contain_text("grid_a")
    expect(steward.get_by_test_id("audit-table")).not_to_contain_text(full_id)
    screenshot(steward, "audit.png")
    steward.locator("form.filters select[name=action]").select_option(AuditAction.REVEAL.value)
    steward.locator("form.filters button[type=submit]").click()
    expect(steward).to_have_url(re.compile(r"[?&]action=reveal"))
    expect(events).to_have_count(1)
    expect(events).to_contain_text("grid_a")
    story.assert_no_problems()


def test_street_officer_sees_both_communities_masked_and_switches_to_english(story, screenshot):
    """A street officer lands on the street's figures, one row per community with its number
    of residents. Their resident list holds both communities with names masked (张*丰, 王*),
    never in clear. The header's language button turns the pages into English, still masked.
    """
    world = story.world
    page = story.log_in(world.street_officer)
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    overview = page.get_by_test_id("overview")
    expect(overview).to_have_count(1)
    expect(overview.locator("h2")).to_contain_text("小寨路街道")
    expect(overview.get_by_test_id("residents-total")).to_have_text(
        str(sum(story.residents.values()))
    )
    for community, residents in story.residents.items():
        row = overview.locator("tbody tr").filter(has_text=community)
        expect(row).to_have_count(1)
        expect(row.locator("td").last).to_have_text(str(residents))
    expect(overview.locator(".chart svg")).to_have_count(1)
    screenshot(page, "home-street.png")

    nav_link(page, PEOPLE).click()
    table = page.locator("table")
    expect(table.locator("tbody tr")).to_have_count(sum(story.residents.values()))
    expect(table).to_contain_text("张*丰")
    expect(table).to_contain_text("王*")
    expect(table).to_contain_text("138****5678")
    for name in ("张三丰", "王五", "李秀英"):
        expect(page.locator("body")).not_to_contain_text(name)

    page.locator("header form.lang button[value=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(story.url(PEOPLE))
    expect(nav_link(page, PEOPLE)).to_have_text("Residents")
    expect(nav_link(page, "/registry/areas/")).to_have_text("Areas")
    expect(page.locator("h1")).to_have_text("Residents")
    expect(page.locator("header form.lang button[value=zh-hans]")).to_be_visible()
    expect(table).to_contain_text("张*丰")
    expect(page.locator("body")).not_to_contain_text("张三丰")
    screenshot(page, "people-en.png", readme=False)
    nav_link(page, "/").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")  # the choice is remembered
    story.assert_no_problems()


def test_nobody_sees_residents_outside_their_jurisdiction_or_role(story, screenshot):
    """A grid worker of 长延堡社区 who types the address of 王五's file (大雁塔社区) gets the
    not-found page, which tells nothing about him. A volunteer has no resident links in the
    menu and is refused the resident list and files with the not-allowed page.
    """
    world = story.world
    page = story.log_in(world.grid_a)
    response = page.goto(f"{PEOPLE}{world.resident_b.pk}/")
    assert response.status == 404
    expect(page.locator("main")).to_contain_text("找不到该内容")
    expect(page.locator("body")).not_to_contain_text("王五")
    screenshot(page, "not-found.png", readme=False)
    response = page.goto(f"/registry/areas/{world.b.community.pk}/")
    assert response.status == 404
    expect(page.locator("body")).not_to_contain_text("大雁塔社区")
    assert page.goto(f"{PEOPLE}{world.resident_a.pk}/").status == 200  # their own still open

    volunteer = story.log_in(world.volunteer_a)
    expect(nav_link(volunteer, "/")).to_be_visible()
    for path in (PEOPLE, "/registry/areas/", "/registry/households/", "/audit/"):
        expect(nav_link(volunteer, path)).to_have_count(0)
    expect(volunteer.get_by_test_id("overview")).to_have_count(0)
    expect(volunteer.locator("body")).not_to_contain_text("张三丰")
    for path in (PEOPLE, f"{PEOPLE}{world.resident_a.pk}/"):
        response = volunteer.goto(path)
        assert response.status == 403
        expect(volunteer.locator("main")).to_contain_text("您没有权限")
        expect(volunteer.locator("body")).not_to_contain_text("张三丰")
    screenshot(volunteer, "not-allowed.png", readme=False)
    story.assert_no_problems()


def test_community_lead_sees_the_community_figures_and_its_area_page(story, screenshot):
    """A community lead lands on their community's live figures (residents, households,
    vulnerable groups, a chart per grid) and nothing of the other community; the community's
    page shows its 12-digit division code and the grid worker in charge of the grid.
    """
    world = story.world
    page = story.log_in(world.lead_a)
    overview = page.get_by_test_id("overview")
    expect(overview).to_have_count(1)
    expect(overview.locator("h2")).to_contain_text("长延堡社区")
    expect(overview.get_by_test_id("residents-total")).to_have_text(
        str(story.residents["长延堡社区"])
    )
    expect(overview.locator(".stat.alert")).to_have_count(6)  # one per vulnerable tag present
    expect(overview.locator(".chart svg")).to_have_count(1)
    expect(page.locator("body")).not_to_contain_text("大雁塔社区")
    screenshot(page, "home-lead.png")

    overview.locator("h2 a").click()
    expect(page).to_have_url(story.url(f"/registry/areas/{world.a.community.pk}/"))
    expect(page.get_by_test_id("division-code")).to_have_text("610113001001")
    grid_row = page.locator("table tbody tr").filter(has_text="第一网格")
    expect(grid_row).to_contain_text(str(world.grid_a))
    expect(grid_row.locator("td").last).to_have_text(str(story.residents["长延堡社区"]))
    screenshot(page, "areas.png")
    story.assert_no_problems()


def test_pages_fit_a_phone(story, screenshot):
    """On a 390x844 phone the home page, the resident list and a resident's file fit the
    screen without sideways scrolling; table rows stack into cards with their labels, and a
    full phone number can still be revealed by tapping.
    """
    world = story.world
    page = story.log_in(world.lead_a, mobile=True)
    expect(page.get_by_test_id("overview")).to_have_count(1)
    assert_fits_width(page)
    screenshot(page, "home-mobile.png")

    page.goto(PEOPLE)
    table = page.locator("table.stack")
    expect(table.locator("thead")).to_be_hidden()
    first = table.locator("tbody tr").first
    expect(first).to_contain_text("张三丰")
    name_cell = first.locator("td").nth(0).bounding_box()
    phone_cell = first.locator("td").nth(4).bounding_box()
    assert phone_cell["y"] >= name_cell["y"] + name_cell["height"] - 1  # stacked, not side by side
    assert name_cell["width"] >= 0.8 * page.viewport_size["width"]
    label = first.locator("td").nth(4).evaluate("td => getComputedStyle(td, '::before').content")
    assert label.strip('"') == first.locator("td").nth(4).get_attribute("data-label") != ""
    search = page.locator("form.filters input[name=q]").bounding_box()
    assert search["x"] >= 0
    assert search["x"] + search["width"] <= page.viewport_size["width"]
    assert_fits_width(page)
    screenshot(page, "people-mobile.png")

    first.get_by_role("link", name="张三丰").tap()
    expect(page.get_by_test_id("person-name")).to_have_text("张三丰")
    assert_fits_width(page)
    page.get_by_test_id("purpose-phone").select_option("contact_resident")
    button = page.locator("#reveal-phone button[type=submit]")
    box = button.bounding_box()
    assert box["x"] + box["width"] <= page.viewport_size["width"]
    button.tap()
    expect(page.get_by_test_id("revealed-phone")).to_have_text("13812345678")
    assert_fits_width(page)
    screenshot(page, "person-mobile.png")
    story.assert_no_problems()
