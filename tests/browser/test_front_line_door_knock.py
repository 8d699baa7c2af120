"""Issue 12, item 3: the door-knock list, built for the stairwell, told through a real browser
(Debian's Chromium) at 390 px: buildings first, then a building's households floor by floor,
labels and colours that say where each member stands, a counter that moves with each visit,
and a page that opens again with no signal once it has been opened."""

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from linli.areas.models import AreaLevel
from linli.areas.services import create_area
from linli.demo.factories import make_resident
from linli.registry.models import Relation
from linli.screening.models import CampaignTarget, ContactAttempt, TargetStatus
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services

pytestmark = pytest.mark.browser

LIMIT = 100_000  # bytes of a door-knock page


def _chunxiao(world) -> dict:
    """春晓公寓 in grid A: 5号楼 (two units, six floors, two flats a floor) and 6号楼 (one unit),
    a household of nobody without a phone in each flat, except 5号楼1单元101: 孙立, who has a
    phone (the text message reaches him), and his mother 孙奶奶, who has none."""
    compound = create_area(parent=world.a.grid, level=AreaLevel.COMPOUND, name="春晓公寓")
    people: dict = {}
    serial = 800
    for building_name, units in (("5号楼", 2), ("6号楼", 1)):
        building = create_area(parent=compound, level=AreaLevel.BUILDING, name=building_name)
        people[building_name] = building
        for u in range(1, units + 1):
            unit = create_area(parent=building, level=AreaLevel.UNIT, name=f"{u}单元")
            people[f"{building_name}{u}单元"] = unit
            for floor in range(1, 7):
                for n in (1, 2):
                    room = create_area(
                        parent=unit, level=AreaLevel.DWELLING, name=f"{floor}0{n}室", floor=floor
                    )
                    serial += 1
                    birth = date(1950, 1, 1) + timedelta(days=serial)
                    if (building_name, u, floor, n) == ("5号楼", 1, 1, 1):
                        son = make_resident(
                            dwelling=room, name="孙立", phone="13711112222", sequence=serial
                        )
                        people["孙立"] = son
                        people["孙奶奶"] = make_resident(
                            dwelling=room,
                            name="孙奶奶",
                            household=son.household,
                            relation=Relation.PARENT,
                            birth=date(1941, 4, 5),
                            phone="",
                            sequence=77,
                        )
                    else:
                        people[(building_name, u, floor, n)] = make_resident(
                            dwelling=room,
                            name=f"住户{serial}",
                            phone="",
                            birth=birth,
                            sequence=serial,
                        )
    return people


def _campaign(world):
    questionnaire = questionnaire_services.create_questionnaire(
        name="每日健康监测", area=world.a.community, by=world.lead_a, from_template="daily_symptoms"
    )
    campaign = campaign_services.create_campaign(
        name="每日健康监测",
        questionnaire_version=questionnaire_selectors.latest_version(questionnaire),
        area=world.a.community,
        by=world.lead_a,
        channels=["h5", "door_knock"],
    )
    return campaign_services.launch_campaign(campaign=campaign, by=world.lead_a)


def _record(page, target_id: int, outcome: str) -> None:
    page.get_by_test_id(f"record-{target_id}").click()
    form = page.get_by_test_id("form")
    form.get_by_test_id(f"outcome-{outcome}").check()
    form.get_by_test_id("submit").click()


def _html_bytes(page) -> int:
    return page.evaluate("new Blob([document.documentElement.outerHTML]).size")


def test_a_grid_worker_walks_a_building_and_keeps_working_without_signal(story, screenshot):
    """The lead's community-wide door-knock page lists the buildings with the households left
    in each, not the households. The grid worker picks 5号楼 and its first floor: 孙立, whom
    nobody has contacted yet, reads "尚未联系" in grey with "登记走访"; his mother 孙奶奶 is to
    visit. 孙奶奶 not at home keeps the household open (orange, "再次走访"); a refusal next door
    closes that household and the counter moves. With no signal the page reloads from the
    phone, a visit is queued there, and it reaches the server when the signal returns."""
    world = story.world
    people = _chunxiao(world)
    campaign = _campaign(world)
    son, mother = people["孙立"], people["孙奶奶"]
    neighbour = people[("5号楼", 1, 1, 2)]
    son_t, mother_t, neighbour_t = (
        CampaignTarget.objects.get(campaign=campaign, person=p) for p in (son, mother, neighbour)
    )
    assert son_t.status == TargetStatus.PENDING
    assert mother_t.status == neighbour_t.status == TargetStatus.NEEDS_DOOR_KNOCK
    url = f"/screening/campaigns/{campaign.pk}/door-knock/"

    # The lead: buildings and units with the households left, no household listed.
    lead = story.log_in(world.lead_a, mobile=True)
    lead.goto(url)
    places = lead.get_by_test_id("places")
    building5 = lead.get_by_test_id(f"building-{people['5号楼'].pk}")
    expect(building5).to_contain_text("5号楼")
    expect(building5).to_contain_text("剩 24 户")
    expect(lead.get_by_test_id(f"building-{people['6号楼'].pk}")).to_contain_text("剩 12 户")
    expect(places.get_by_test_id(f"unit-{people['5号楼2单元'].pk}")).to_contain_text("12")
    expect(lead.locator(".dk-household")).to_have_count(0)
    assert _html_bytes(lead) < LIMIT
    screenshot(lead, "front-line-door-knock-buildings.png")

    # The grid worker picks 5号楼, then its first floor.
    worker = story.log_in(world.grid_a, mobile=True)
    worker.goto(url)
    worker.get_by_test_id(f"building-{people['5号楼'].pk}").click()
    expect(worker.locator(".dk-household")).to_have_count(20)  # the first page
    expect(worker.get_by_test_id("page-of")).to_contain_text("第 1 页，共 2 页")
    assert _html_bytes(worker) < LIMIT
    worker.get_by_test_id("floor-select").select_option("1")
    expect(worker.locator(".dk-household")).to_have_count(4)
    counter = worker.get_by_test_id("todo-summary")
    expect(counter).to_have_text("还需走访：4 户 · 4 人")

    # Labels and colours follow each member's state.
    expect(worker.get_by_test_id(f"state-{son_t.pk}")).to_have_text("尚未联系")
    expect(worker.get_by_test_id(f"record-{son_t.pk}")).to_have_text("登记走访")
    expect(worker.get_by_test_id(f"state-{mother_t.pk}")).to_have_text("需上门")
    expect(worker.get_by_test_id(f"record-{mother_t.pk}")).to_have_text("登记走访")
    grey = worker.get_by_test_id(f"state-{son_t.pk}").evaluate(
        "node => getComputedStyle(node).color"
    )
    orange = worker.get_by_test_id(f"state-{mother_t.pk}").evaluate(
        "node => getComputedStyle(node).color"
    )
    assert grey != orange and grey != "rgb(30, 122, 60)"  # not contacted is not green

    # The page is kept on the phone once opened.
    expect(worker.get_by_test_id("offline-ready")).to_be_visible()

    # 孙奶奶 is not at home: her household stays open, the counter does not move.
    _record(worker, mother_t.pk, "not_at_home")
    expect(worker.get_by_test_id("outbox-count")).to_have_text("0")
    household = worker.get_by_test_id(f"household-{son.household_id}")
    expect(household.get_by_test_id(f"household-done-{son.household_id}")).to_be_hidden()
    expect(worker.get_by_test_id(f"record-{mother_t.pk}")).to_have_text("再次走访")
    expect(worker.get_by_test_id(f"member-{mother_t.pk}")).to_have_attribute(
        "data-state", "needs_door_knock"
    )
    expect(counter).to_have_text("还需走访：4 户 · 4 人")
    # Next door refuses: that household is off the list and the counter moves.
    _record(worker, neighbour_t.pk, "refused")
    expect(worker.get_by_test_id("outbox-count")).to_have_text("0")
    expect(worker.get_by_test_id(f"household-done-{neighbour.household_id}")).to_be_visible()
    expect(worker.get_by_test_id(f"record-{neighbour_t.pk}")).to_have_text("重新登记")
    expect(counter).to_have_text("还需走访：3 户 · 3 人")
    mother_t.refresh_from_db()
    assert mother_t.status == TargetStatus.NEEDS_DOOR_KNOCK
    screenshot(worker, "front-line-door-knock.png")

    # The copy kept on the phone follows what was sent.
    kept = """url => caches.open("linli-dk-pages")
        .then(cache => cache.match(url, {ignoreVary: true}))
        .then(r => r ? r.text() : "")
        .then(html => html.includes('data-households="3"'))"""
    for _ in range(50):
        if worker.evaluate(kept, worker.url):
            break
        worker.wait_for_timeout(200)
    assert worker.evaluate(kept, worker.url)

    # No signal in the stairwell: the page opens from the phone.
    worker.context.set_offline(True)
    response = worker.reload()
    assert response is not None and response.from_service_worker
    expect(worker.get_by_test_id("todo-summary")).to_have_text("还需走访：3 户 · 3 人")
    expect(worker.get_by_test_id(f"record-{mother_t.pk}")).to_have_text("再次走访")
    # The kept copy is the list as the server saw it after the refusal: next door left it.
    expect(worker.get_by_test_id(f"household-{neighbour.household_id}")).to_have_count(0)
    _record(worker, mother_t.pk, "refused")
    expect(worker.get_by_test_id("outbox-count")).to_have_text("1")
    expect(worker.get_by_test_id(f"household-done-{son.household_id}")).to_be_visible()
    expect(worker.get_by_test_id("todo-summary")).to_have_text("还需走访：2 户 · 2 人")
    assert ContactAttempt.objects.filter(target=mother_t).count() == 1
    screenshot(worker, "front-line-door-knock-offline.png")

    # The signal returns: the queue is sent.
    worker.context.set_offline(False)
    expect(worker.get_by_test_id("outbox-count")).to_have_text("0")
    mother_t.refresh_from_db()
    assert mother_t.status == TargetStatus.REFUSED
    assert ContactAttempt.objects.filter(target=mother_t).count() == 2
    # The household has left the list; "also show visited" brings it back with what happened.
    worker.reload()
    expect(worker.get_by_test_id(f"household-{son.household_id}")).to_have_count(0)
    worker.get_by_test_id("toggle-visited").click()
    expect(worker.get_by_test_id(f"state-{son_t.pk}")).to_have_text("尚未联系")
    expect(worker.get_by_test_id(f"record-{son_t.pk}")).to_have_text("登记走访")
    expect(worker.get_by_test_id(f"state-{mother_t.pk}")).to_have_text("拒绝作答")
    expect(worker.get_by_test_id(f"record-{mother_t.pk}")).to_have_text("重新登记")
    expect(worker.get_by_test_id(f"household-done-{son.household_id}")).to_be_visible()
    story.assert_no_problems()


def test_logging_out_forgets_the_pages_kept_for_offline(story):
    """A page kept on the phone for working without signal is gone once its user logs out."""
    world = story.world
    campaign = _campaign(world)
    worker = story.log_in(world.grid_a, mobile=True)
    worker.goto(f"/screening/campaigns/{campaign.pk}/door-knock/")
    expect(worker.get_by_test_id("offline-ready")).to_be_visible()
    kept = "caches.open('linli-dk-pages').then(c => c.keys()).then(k => k.length)"
    assert worker.evaluate(kept) >= 1
    worker.locator("form[action='/accounts/logout/'] button").click()
    expect(worker.locator("html[data-offline-pages=forgotten]")).to_have_count(1)
    left = "caches.keys().then(keys => keys.filter(k => k.startsWith('linli-dk-pages')))"
    assert worker.evaluate(left) == []
    story.assert_no_problems()
