"""The unified registry told through a real browser: a data steward imports a department's
file, then decides a pair the matcher was unsure of, and undoes the merge.

Like test_stories.py, the stories find things by URL, data-testid and the residents' own
(Chinese) names, so they hold whichever language the labels are in.
"""

import csv
import io
import re
from datetime import date

import pytest
from playwright.sync_api import expect

from linli.core.idnumbers import make_id_number
from linli.registry.models import MatchReview, Person, PersonMerge, ReviewStatus, SourceRecord

pytestmark = pytest.mark.browser

IMPORTS = "/registry/imports/"
REVIEWS = "/registry/reviews/"
PEOPLE = "/registry/people/"
FILE_NAME = "翠华小区户籍人口.csv"
ZHANG_ID = "610113198005171237"  # 张三丰 (conftest.world, sequence 123)
ZHANG_PHONE = "13812345678"
QIAN_ID = make_id_number("610113", date(1975, 9, 30), 331)
SUN_ID = make_id_number("610113", date(2001, 2, 14), 482)
ZHENG_ID = make_id_number("610113", date(1964, 12, 1), 517)
# A mistyped check character: no valid ID number to keep a nameless row by.
ZHENG_MISTYPED = ZHENG_ID[:-1] + ("1" if ZHENG_ID[-1] != "1" else "2")


def nav_link(page, path: str):
    return page.locator(f"nav.mainnav a[href='{path}']")


def column(mapping_form, header: str):
    """The select saying what the column `header` of the file holds."""
    return mapping_form.get_by_role("combobox", name=header, exact=True)


@pytest.fixture
def department_file(tmp_path):
    """A household-registration list as police stations send it: GB18030, official headers,
    and the usual damage — a traditional-character name, an ID number Excel turned into
    scientific notation, a phone written +86 with dashes, and a row whose name is missing and
    whose ID number is mistyped."""
    rows = [
        ["姓名", "公民身份号码", "联系电话", "现住址"],
        ["张三丰", ZHANG_ID, ZHANG_PHONE, "翠华小区1号楼1单元101室"],
        ["錢七", QIAN_ID, "13911112222", "翠华小区3号楼2单元501室"],
        ["孙丽", SUN_ID, "15033334444", "翠华小区3号楼2单元501室"],
        ["周八", "6.10103E+17", "18655556666", "翠华小区1号楼1单元202室"],
        ["", ZHENG_MISTYPED, "13677778888", "翠华小区1号楼1单元102室"],
        ["郑十", "", "+86 139-0000-2222", "翠华小区3号楼2单元502室"],
    ]
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(rows)
    path = tmp_path / FILE_NAME
    path.write_bytes(text.getvalue().encode("gb18030"))
    assert "錢七".encode("gb18030") in path.read_bytes()  # really GB18030, not UTF-8
    return path


def test_data_steward_imports_a_department_file_and_sees_where_values_came_from(
    story, screenshot, department_file
):
    """The data steward uploads the police station's GB18030 list through 导入. Linli reads
    it, maps 公民身份号码 to the ID number and warns before anything is written that one row
    (no name, no valid ID number) will be rejected. Ignoring the name column rejects the rows
    without a valid ID number, ignoring the ID number too rejects every row; putting them back
    restores the preview. After confirming, the progress card reaches 已导入 with 5 rows
    accepted and 1 rejected, and the rejected rows come back as a CSV giving the reason in
    Chinese and English. 张三丰's file now lists the department's file as a source.
    """
    world = story.world
    page = story.log_in(world.steward_a)
    nav_link(page, IMPORTS).click()
    expect(page).to_have_url(story.url(IMPORTS))

    form = page.get_by_test_id("upload-form")
    form.locator("select[name=area]").select_option(str(world.a.community.pk))
    form.locator("input[name=source_name]").fill("小寨路派出所 户籍人口")
    form.locator("select[name=source_kind]").select_option("household_registration")
    form.locator("input[name=file]").set_input_files(department_file)
    screenshot(page, "import-upload.png")
    form.locator("button[type=submit]").click()

    # The batch page: suggested mapping and a preview; nothing imported yet.
    expect(page).to_have_url(re.compile(r"/registry/imports/\d+/$"))
    expect(page.locator("h1")).to_have_text(FILE_NAME)
    expect(page.locator("main")).to_contain_text("gb18030")
    mapping = page.get_by_test_id("mapping-form")
    id_select = column(mapping, "公民身份号码")
    expect(id_select).to_have_value("id_number")
    expect(column(mapping, "姓名")).to_have_value("name")
    expect(column(mapping, "联系电话")).to_have_value("phone")
    expect(column(mapping, "现住址")).to_have_value("address")
    summary = page.get_by_test_id("preview-summary")
    expect(summary).to_contain_text(re.compile(r"6\D+1\D"))  # 6 rows: 1 will be rejected
    preview = page.locator("#preview table")
    expect(preview).to_contain_text("钱七")  # the preview shows the name as it will be stored
    expect(preview).to_contain_text("138****5678")  # identifiers masked even in the preview
    expect(page.locator("main")).not_to_contain_text(ZHANG_PHONE)
    expect(page.locator("main")).not_to_contain_text(QIAN_ID)
    expect(preview.locator("tbody tr").nth(4)).to_contain_text("姓名为空")
    expect(preview.locator("tbody tr").nth(3)).to_contain_text("科学计数法")
    screenshot(page, "import-preview.png")

    # htmx re-renders the preview as the steward corrects the mapping (no navigation).
    batch_url = page.url
    name_select = column(mapping, "姓名")
    name_select.select_option("")
    # Without names, only the rows with a valid ID number are kept (周八's is damaged).
    expect(summary).to_contain_text(re.compile(r"6\D+3\D"))
    expect(page.locator("#preview .errorlist")).to_have_count(0)
    id_select.select_option("")
    expect(page.locator("#preview .errorlist")).to_be_visible()  # neither name nor ID number
    expect(summary).to_contain_text(re.compile(r"6\D+6\D"))
    name_select.select_option("name")
    id_select.select_option("id_number")
    expect(summary).to_contain_text(re.compile(r"6\D+1\D"))
    expect(page.locator("#preview .errorlist")).to_have_count(0)
    expect(preview).to_contain_text("钱七")
    assert page.url == batch_url

    # Confirm: the import runs (inline under the test task backend) and the page polls.
    page.get_by_test_id("confirm-import").click()
    progress = page.get_by_test_id("import-progress")
    expect(progress).to_have_attribute("data-status", "committed")
    summary = page.get_by_test_id("import-summary")
    facts = summary.locator("dd")
    expect(facts.nth(0)).to_have_text("5")  # accepted
    expect(facts.nth(1)).to_contain_text(re.compile(r"^1\b"))  # rejected, with the link
    expect(facts.nth(3)).to_have_text("4")  # new people: 钱七, 孙丽, 周八, 郑十
    expect(facts.nth(4)).to_have_text("1")  # matched to 张三丰 by ID number
    screenshot(page, "import-done.png")

    with page.expect_download() as info:
        page.get_by_test_id("rejected-download").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8-sig", newline="") as handle:
        rejected = list(csv.reader(handle))
    assert len(rejected) == 3, rejected
    watermark, header, row = rejected
    assert "steward_a" in watermark[0]  # who exported it, and when
    assert header[3:] == ["姓名", "公民身份号码", "联系电话", "现住址"]
    assert row[0] == "5"
    assert "姓名为空" in row[1]
    assert "name is empty" in row[2]
    # Identifiers masked: the department fixes the row from its own file.
    assert row[3:] == [
        "",
        ZHENG_MISTYPED[:4] + "*" * 10 + ZHENG_MISTYPED[-4:],
        "136****8888",
        "翠华小区1号楼1单元102室",
    ]

    # 张三丰 was linked by his ID number, not duplicated; his file names the source.
    assert Person.objects.filter(name="张三丰").count() == 1
    assert SourceRecord.objects.get(row_number=1).person_id == world.resident_a.pk
    page.goto(f"{PEOPLE}{world.resident_a.pk}/")
    expect(page.get_by_test_id("person-name")).to_have_text("张三丰")
    provenance = page.get_by_test_id("provenance")
    expect(provenance).to_contain_text(FILE_NAME)
    expect(provenance).to_contain_text("小寨路派出所 户籍人口")
    expect(provenance).to_contain_text("138****5678")
    expect(page.locator("main")).not_to_contain_text(ZHANG_PHONE)
    screenshot(page, "import-person.png", readme=False)

    # The new residents are in the registry, the damaged ID number never accepted as valid.
    zhou = Person.objects.get(name="周八")
    assert zhou.id_number_hash == ""
    assert Person.objects.get(name="钱七").address.endswith("3号楼2单元501室")
    story.assert_no_problems()


@pytest.fixture
def possible_duplicate(story):
    """张三峰 from a grid census: the same phone as 张三丰, a homophone name, another dwelling
    and no ID number — a pair the matcher leaves to a steward."""
    from linli.registry.services.people import create_household, register_person

    world = story.world
    dwelling = world.a.dwellings[3]
    other = register_person(
        name="张三峰",
        phone=ZHANG_PHONE,
        dwelling=dwelling,
        household=create_household(dwelling=dwelling, by=None),
        relation_to_head="head",
        by=None,
    )
    review = MatchReview.objects.create(
        left=world.resident_a,
        right=other,
        area_path=world.a.community.path,
        probability=0.95,
        reasons={
            "name": "same_pinyin",
            "birth_date": "missing",
            "phone": "exact",
            "dwelling": "same_building",
        },
    )
    return other, review


def test_data_steward_merges_a_possible_duplicate_and_undoes_it(
    story, screenshot, possible_duplicate
):
    """The steward opens 待核对 and finds 张三丰 and 张三峰 side by side: names in clear,
    phones masked. On the compare page they press 「同一人，合并」; the queue is empty and
    张三峰's file now leads to 张三丰's. Changing their mind, they undo the merge on 张三丰's
    page and 张三峰's file is back on its own.
    """
    world = story.world
    other, review = possible_duplicate
    page = story.log_in(world.steward_a)
    nav_link(page, REVIEWS).click()
    expect(page).to_have_url(story.url(REVIEWS))

    table = page.get_by_test_id("review-table")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("张三丰")
    expect(rows).to_contain_text("张三峰")
    expect(rows).to_contain_text("95%")  # the match probability in words, not a bare score
    expect(rows).to_contain_text("138****5678")
    expect(page.locator("body")).not_to_contain_text(ZHANG_PHONE)
    expect(page.locator("body")).not_to_contain_text(ZHANG_ID)
    screenshot(page, "reviews.png", readme=False)

    rows.locator(f"a[href='{REVIEWS}{review.pk}/']").click()
    expect(page).to_have_url(story.url(f"{REVIEWS}{review.pk}/"))
    sides = page.locator(".pair section")
    expect(sides).to_have_count(2)
    expect(sides.nth(0).locator("h2")).to_have_text("张三丰")
    expect(sides.nth(1).locator("h2")).to_have_text("张三峰")
    expect(sides.nth(0)).to_contain_text(re.compile(rf"6101\*{{10}}{ZHANG_ID[-4:]}"))
    expect(page.locator("body")).not_to_contain_text(ZHANG_PHONE)
    expect(page.locator("body")).not_to_contain_text(ZHANG_ID)
    screenshot(page, "review.png")

    page.get_by_test_id("decide-same").click()
    expect(page).to_have_url(story.url(REVIEWS))
    expect(rows).to_have_count(1)
    expect(table.locator(f"a[href^='{REVIEWS}']")).to_have_count(0)  # nothing to compare
    review.refresh_from_db()
    assert review.status == ReviewStatus.ACCEPTED
    merge = PersonMerge.objects.get(review=review)
    assert (merge.survivor_id, merge.merged_id) == (world.resident_a.pk, other.pk)

    # The merged file leads to the survivor.
    page.goto(f"{PEOPLE}{other.pk}/")
    expect(page).to_have_url(story.url(f"{PEOPLE}{world.resident_a.pk}/"))
    expect(page.get_by_test_id("person-name")).to_have_text("张三丰")
    expect(page.locator(".messages")).to_be_visible()

    undo = page.get_by_test_id("undo-merge")
    expect(undo).to_have_count(1)
    screenshot(page, "review-merged.png", readme=False)
    undo.click()
    expect(page).to_have_url(story.url(f"{PEOPLE}{world.resident_a.pk}/"))
    expect(page.locator(".messages")).to_be_visible()
    expect(page.get_by_test_id("undo-merge")).to_have_count(0)

    response = page.goto(f"{PEOPLE}{other.pk}/")
    assert response.status == 200
    expect(page).to_have_url(story.url(f"{PEOPLE}{other.pk}/"))
    expect(page.get_by_test_id("person-name")).to_have_text("张三峰")
    other.refresh_from_db()
    assert other.merged_into_id is None
    merge.refresh_from_db()
    assert merge.undone_by == world.steward_a

    # The pair is back in the queue, to be decided again.
    nav_link(page, REVIEWS).click()
    expect(rows.filter(has_text="张三峰")).to_have_count(1)
    story.assert_no_problems()
