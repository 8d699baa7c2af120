"""Issue 12, items 9 and 10: Chinese pages speak Chinese, and the duplicate review says why.

A steward whose upload is refused reads the reason once, in Chinese; the admin names the
log-in lockouts and the background tasks in Chinese; the browser's own /favicon.ico finds the
icon; a lead looking at a person nobody has reached yet reads 未排查, not 无风险; and a pair
the matcher scored 100% but did not merge says, in words, why it waits for a person.
"""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from linli.accounts.models import User
from linli.registry.models import MatchReview
from linli.screening.services import campaigns as campaign_services
from linli.screening.tests.builders import draft

pytestmark = pytest.mark.browser

# A Chinese word, a slash, a Latin letter: the shape of a "中文 / English" pair on a page.
PAIR = re.compile(r"[\u4e00-\u9fff][^\n/]{0,60} / [A-Za-z]")


def test_a_refused_upload_says_why_once_in_chinese(story, screenshot, tmp_path):
    """An empty file is refused with 文件是空的 alone, not followed by its English."""
    world = story.world
    empty = tmp_path / "空名单.csv"
    empty.write_bytes(b"")
    page = story.log_in(world.steward_a, mobile=True)
    page.goto("/registry/imports/")
    form = page.get_by_test_id("upload-form")
    form.locator("select[name=area]").select_option(str(world.a.community.pk))
    form.locator("input[name=source_name]").fill("网格普查")
    form.locator("input[name=file]").set_input_files(str(empty))
    form.locator("button[type=submit]").click()
    errors = page.locator("form .errorlist")
    expect(errors.first).to_contain_text("文件是空的")
    expect(page.locator("main")).not_to_contain_text("the file is empty")
    assert not PAIR.search(page.locator("main").inner_text())
    screenshot(page, "front-line-import-refused.png")
    story.assert_no_problems()


def test_the_admin_names_third_party_apps_in_chinese(story):
    """The admin index lists 登录锁定 and 后台任务 (not Axes, Tasks Database Backend) with
    their models in Chinese."""
    from linli.demo.factories import PASSWORD

    User.objects.create_superuser(username="root", password=PASSWORD)
    page = story.new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.locator("input[type=submit]").click()
    main = page.locator("#content-main")
    expect(main).to_contain_text("登录锁定")
    expect(main).to_contain_text("登录尝试")
    expect(main).to_contain_text("后台任务")
    expect(main).to_contain_text("任务结果")
    for english in ("Axes", "Tasks Database Backend", "Access attempts", "Task Results"):
        expect(main).not_to_contain_text(english)


def test_the_browsers_own_favicon_request_finds_the_icon(story):
    """/favicon.ico (asked for by every browser, whatever the page links) leads to the site's
    SVG icon among the static files instead of a 404."""
    page = story.new_page()
    icon = page.request.get(story.url("/favicon.ico"))
    assert icon.status == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in icon.body()


def test_a_person_nobody_reached_reads_not_yet_screened(story, screenshot):
    """A campaign is running and 张三丰 has not answered: his screening row says 未排查
    ("not yet screened"), never 无风险 ("no risk") — no answer is not a clean bill."""
    world = story.world
    campaign_services.launch_campaign(campaign=draft(world), by=world.lead_a)
    page = story.log_in(world.lead_a, mobile=True)
    page.goto(reverse("registry:person", args=[world.resident_a.pk]))
    row = page.get_by_test_id("person-screenings").locator("tbody tr").first
    expect(row.get_by_test_id("risk-level")).to_have_text("未排查")
    expect(row).not_to_contain_text("无风险")
    screenshot(page, "front-line-person-not-screened.png")
    story.assert_no_problems()


def test_a_duplicate_scored_100_percent_says_why_it_was_not_merged(story, screenshot):
    """Two people already in the register look alike in every field the matcher compared;
    it scored them 1.0 yet left them for a steward. The page says 匹配概率 100%, that it did
    not merge them because no ID number proves it and Linli never merges two registered
    people by itself, and lists the evidence per field — no bare "1.000"."""
    from linli.registry.services.people import create_household, register_person

    world = story.world
    dwelling = world.a.dwellings[1]
    twin = register_person(
        name=world.resident_a.name,
        phone="13812345678",
        dwelling=dwelling,
        household=create_household(dwelling=dwelling, by=None),
        relation_to_head="head",
        by=None,
    )
    review = MatchReview.objects.create(
        left=world.resident_a,
        right=twin,
        area_path=world.a.community.path,
        probability=1.0,
        reasons={"name": "exact", "birth_date": "missing", "phone": "exact", "dwelling": "exact"},
    )
    page = story.log_in(world.steward_a, mobile=True)
    page.goto("/registry/reviews/")
    expect(page.get_by_test_id("review-table")).to_contain_text("100%")
    expect(page.get_by_test_id("review-table")).not_to_contain_text("1.000")
    page.goto(reverse("registry:review", args=[review.pk]))
    why = page.get_by_test_id("review-why")
    expect(why.get_by_test_id("match-probability")).to_have_text("匹配概率 100%")
    expect(why).to_contain_text("未自动合并")
    expect(why.get_by_test_id("held-back")).to_contain_text("身份证号缺失")
    expect(why.get_by_test_id("held-back")).to_contain_text("两人都已在人口库中")
    evidence = page.get_by_test_id("match-evidence")
    expect(evidence).to_contain_text("姓名")
    expect(evidence).to_contain_text("相同")
    expect(page.locator("main")).not_to_contain_text("1.000")
    screenshot(page, "front-line-review-why.png")
    story.assert_no_problems()


def test_an_invalid_link_speaks_one_language(story, screenshot):
    """Verification (already right before this work): a mistyped or forged H5 link says why
    it cannot be used in Chinese alone."""
    page = story.new_page(mobile=True)
    page.goto("/screening/h5/not-a-real-link/")
    error = page.get_by_test_id("h5-link-error")
    expect(error).to_be_visible()
    text = error.inner_text()
    assert re.search(r"[\u4e00-\u9fff]", text) and not re.search(r"[A-Za-z]{3,}", text), text
    assert not PAIR.search(page.locator("body").inner_text())
    screenshot(page, "front-line-invalid-link.png")
