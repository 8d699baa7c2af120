"""Go-live from a district's own files, told through a real browser: the street officer
downloads the area template, fills in a grid and its compounds, previews and confirms; then
imports a staff sheet, and the new grid worker signs in for the first time with the SMS code.
"""

import io
import re
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import expect

from linli.accounts.models import User
from linli.adapters import sms
from linli.areas.models import Area, AreaLevel
from linli.core.sheets import workbook

pytestmark = pytest.mark.browser

AREAS = "/areas/import/"
STAFF = "/accounts/staff/"


def fill_template(path) -> bytes:
    """The downloaded template, its example rows replaced by the street's own."""
    book = openpyxl.load_workbook(io.BytesIO(Path(path).read_bytes()))
    admin = book["行政区划"]
    admin.delete_rows(2, admin.max_row)
    for row in [
        ["610100000000", "西安市", ""],
        ["610113000000", "雁塔区", ""],
        ["610113001000", "小寨路街道", ""],
        ["610113001001", "长延堡社区居委会", ""],
        ["610113001003", "明德门社区居委会", ""],
    ]:
        admin.append(row)
    lower = book["网格小区楼栋"]
    lower.delete_rows(2, lower.max_row)
    for row in [
        ["610113001001", "第二网格", "阳光小区", "阳光城、阳光花园", "", "", "", "", "", ""],
        ["610113001001", "第二网格", "阳光小区", "", "1号楼", "1单元", "", "1-6", "01-02", "1"],
        ["610113001003", "第一网格", "明德小区", "", "", "", "", "", "", ""],
    ]:
        lower.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_street_loads_its_areas_then_its_staff_who_sign_in_with_the_sms_code(
    story, screenshot, tmp_path
):
    world = story.world
    page = story.log_in(world.street_officer)
    page.locator(f"nav.mainnav a[href='{AREAS}']").click()
    expect(page).to_have_url(story.url(AREAS))
    with page.expect_download() as info:
        page.get_by_test_id("template-link").click()
    filled = tmp_path / "小寨路街道区域.xlsx"
    filled.write_bytes(fill_template(info.value.path()))

    form = page.get_by_test_id("area-upload-form")
    form.locator("input[name=file]").set_input_files(filled)
    form.locator("button[type=submit]").click()
    summary = page.get_by_test_id("preview-summary")
    expect(summary).to_contain_text("10")  # 5 floors × 2 rooms, floor 1 being shops
    expect(page.get_by_test_id("new-areas")).to_contain_text("阳光小区")
    expect(page.get_by_test_id("new-areas")).to_contain_text("明德门社区")
    assert not Area.objects.filter(name="阳光小区").exists()  # nothing written yet
    screenshot(page, "golive-areas-preview.png")
    mobile = story.log_in(world.street_officer, mobile=True)
    mobile.goto(story.url(AREAS))
    mobile.locator("input[name=file]").set_input_files(filled)
    mobile.get_by_test_id("area-upload-form").locator("button[type=submit]").click()
    expect(mobile.get_by_test_id("preview-summary")).to_be_visible()
    screenshot(mobile, "golive-areas-preview-390.png")

    page.get_by_test_id("confirm-import").click()
    expect(page.locator(".messages")).to_be_visible()
    sunshine = Area.objects.get(name="阳光小区")
    assert sunshine.aliases == ["阳光城", "阳光花园"]
    assert (
        Area.objects.filter(level=AreaLevel.DWELLING, path__startswith=sunshine.path).count() == 10
    )

    # The staff sheet: one grid worker for the new grid.
    staff_file = tmp_path / "人员.xlsx"
    staff_file.write_bytes(
        workbook(
            [
                (
                    "人员",
                    ["姓名", "手机号", "角色", "负责区域", "用户名"],
                    [["周丽", "13900005555", "网格员", "610113001001/第二网格", ""]],
                )
            ]
        )
    )
    page.goto(story.url(STAFF))
    page.get_by_test_id("staff-upload-form").locator("input[name=file]").set_input_files(staff_file)
    page.get_by_test_id("staff-upload-form").locator("button[type=submit]").click()
    expect(page.get_by_test_id("staff-rows")).to_contain_text("139****5555")
    screenshot(page, "golive-staff-preview.png")
    page.get_by_test_id("confirm-staff").click()
    expect(page.locator(".messages")).to_be_visible()
    assert User.objects.get(username="13900005555").areas.get().name == "第二网格"

    message = next(m for m in sms.outbox if m.to == "13900005555")
    code = re.search(r"(?<!\d)(\d{6})(?!\d)", message.text)[1]
    worker = story.new_page(mobile=True)
    worker.goto(story.url("/accounts/first-sign-in/"))
    form = worker.get_by_test_id("first-sign-in-form")
    form.locator("input[name=username]").fill("13900005555")
    form.locator("input[name=code]").fill(code)
    form.locator("input[name=password]").fill("zhouli grid two 2026")
    form.locator("input[name=password_again]").fill("zhouli grid two 2026")
    screenshot(worker, "golive-first-sign-in-390.png")
    form.locator("button[type=submit]").click()
    expect(worker).to_have_url(story.url("/"))
    expect(worker.locator(".who")).to_contain_text("周丽")
    story.assert_no_problems()
