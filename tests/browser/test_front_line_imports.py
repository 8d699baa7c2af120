"""Issue 12, item 1: imports never invent areas, told through a real browser (Debian's
Chromium) at 390 px."""

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from linli.areas.models import Area, AreaLevel
from linli.areas.services import create_area
from linli.registry.models import SourceRecord

pytestmark = pytest.mark.browser

IMPORTS = "/registry/imports/"
FILE_NAME = "第二网格物业名单.csv"


@pytest.fixture
def second_grid(story):
    """长延堡社区 gets 西电名居 and 春晓公寓 in 第一网格, and an empty 第二网格."""
    a = story.world.a
    create_area(parent=a.grid, level=AreaLevel.COMPOUND, name="西电名居")
    create_area(parent=a.grid, level=AreaLevel.COMPOUND, name="春晓公寓")
    return create_area(parent=a.community, level=AreaLevel.GRID, name="第二网格")


@pytest.fixture
def property_file(tmp_path):
    """第二网格's property company lists its owners: two compounds the tree has in 第一网格
    (one in traditional characters), and 新华苑, which nobody has drawn yet."""
    rows = [
        ["业主姓名", "联系电话", "房号"],
        ["周一", "13800000001", "西電名居1号楼1单元101室"],
        ["吴二", "13800000002", "春晓公寓2-1-305"],
        ["郑三", "13800000003", "春晓公寓2-1-306"],
        ["王四", "13800000004", "新华苑3-2-501"],
        ["冯五", "13800000005", "新华苑3-2-502"],
    ]
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(rows)
    path = tmp_path / FILE_NAME
    path.write_bytes(text.getvalue().encode("utf-8"))
    return path


def test_steward_imports_into_a_grid_without_inventing_compounds(
    story, screenshot, second_grid, property_file
):
    """The data steward, on a phone, imports 第二网格's property list. The 导入到 menu names
    each grid with its community. The preview shows 春晓公寓2-1-305 as written (an address,
    not an ID), offers no second "住址" beside the whole address, and lists the compounds:
    西电名居 and 春晓公寓 found in 第一网格, 新华苑 (2 rows) to be created in 待分配网格 unless
    the steward says otherwise. After importing, 第二网格 has no compound of its own, there is
    one 西电名居 and one 春晓公寓, and 新华苑 waits in 待分配网格. Choosing in the card
    updates the count of compounds to create as the steward weighs it."""
    world = story.world
    page = story.log_in(world.steward_a, mobile=True)
    page.goto(IMPORTS)

    form = page.get_by_test_id("upload-form")
    menu = form.locator("select[name=area]")
    labels = [text.strip() for text in menu.locator("option").all_inner_texts()][1:]
    assert labels == ["长延堡社区", "长延堡社区 · 第一网格", "长延堡社区 · 第二网格"]
    menu.select_option(label="长延堡社区 · 第二网格")
    form.locator("input[name=source_name]").fill("春晓物业 业主名单")
    form.locator("select[name=source_kind]").select_option("property")
    form.locator("input[name=file]").set_input_files(property_file)
    form.locator("button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/registry/imports/\d+/$"))
    expect(page.locator("main p.muted").first).to_contain_text("长延堡社区 · 第二网格")
    mapping = page.get_by_test_id("mapping-form")
    address = mapping.get_by_role("combobox", name="房号", exact=True)
    expect(address).to_have_value("address")
    targets = [text.strip() for text in address.locator("option").all_inner_texts()]
    assert "住址" not in targets
    preview = page.locator("#preview table").last
    expect(preview).to_contain_text("春晓公寓2-1-305")
    expect(preview).not_to_contain_text("*****1305")

    areas = page.get_by_test_id("import-areas")
    expect(areas).to_be_visible()
    expect(page.get_by_test_id("areas-summary")).to_contain_text("导入将新建 1 个小区")
    xinhua = areas.locator("[data-compound='新华苑']")
    expect(xinhua.locator("dd").nth(2)).to_have_text("没有")
    expect(xinhua.get_by_test_id("area-rows")).to_have_text("2")
    expect(xinhua.locator("select option:checked")).to_have_text("新建到待分配网格（待分配）")
    chunxiao = areas.locator("[data-compound='春晓公寓']")
    expect(chunxiao).to_contain_text("第一网格")
    expect(chunxiao.get_by_test_id("area-rows")).to_have_text("2")
    xidian = areas.locator("[data-compound='西电名居']")
    expect(xidian.locator("select option:checked")).to_contain_text("西电名居（第一网格）")
    areas.scroll_into_view_if_needed()
    screenshot(page, "front-line-import-areas.png")

    # Weighing a choice: taking 新华苑 for 春晓公寓 leaves nothing to create; the preview
    # follows without leaving the page, and going back to the default restores it.
    summary = page.get_by_test_id("areas-summary")
    xinhua.locator("select").select_option(label="春晓公寓（第一网格）")
    expect(summary).to_contain_text("导入将新建 0 个小区")
    xinhua = page.get_by_test_id("import-areas").locator("[data-compound='新华苑']")
    expect(xinhua.locator("select option:checked")).to_have_text("春晓公寓（第一网格）")
    xinhua.locator("select").select_option(label="新建到待分配网格（待分配）")
    expect(summary).to_contain_text("导入将新建 1 个小区")

    page.get_by_test_id("confirm-import").click()
    expect(page.get_by_test_id("import-progress")).to_have_attribute("data-status", "committed")
    expect(page.get_by_test_id("new-compounds")).to_have_text("1")

    compounds = Area.objects.filter(level=AreaLevel.COMPOUND)
    assert compounds.filter(name="西电名居").count() == 1
    assert compounds.filter(name="春晓公寓").count() == 1
    assert not Area.objects.filter(parent=second_grid).exists()
    xinhua_area = compounds.get(name="新华苑")
    assert xinhua_area.parent.name == "待分配网格"
    assert xinhua_area.parent.parent == world.a.community
    record = SourceRecord.objects.get(batch__file_name=FILE_NAME, row_number=2)
    assert record.dwelling.path.startswith(compounds.get(name="春晓公寓").path)

    # The community's page: its grids, none of them holding a copy.
    page.goto(f"/registry/areas/{world.a.community.pk}/")
    expect(page.locator("main")).to_contain_text("待分配网格")
    screenshot(page, "front-line-import-tree.png")
    story.assert_no_problems()
