"""Issue 13, item 1: a department file is understood by its contents, not only its headers.

A data steward uploads a testing lab's list whose name column is headed 被采样人 and whose ID
column is headed 证号, spellings no synonym knows. The preview maps both from their values
and says why under each column ("3 个值中有 3 个像中文姓名"); the steward can still change a
column, and the import links the rows to the people already in the registry.
"""

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from linli.registry.models import ImportSource, SourceRecord

pytestmark = pytest.mark.browser

ZHANG_ID = "610113198005171237"  # 张三丰 (conftest.world, sequence 123)
FILE_NAME = "外单位采样名单.csv"


def column(mapping_form, header: str):
    return mapping_form.get_by_role("combobox", name=header, exact=True)


def reason(mapping_form, header: str):
    """The reason shown under the column `header` (the select is described by it)."""
    described_by = column(mapping_form, header).get_attribute("aria-describedby")
    return mapping_form.locator(f"#{described_by}")


def test_the_preview_reads_unknown_headers_from_the_values_and_says_why(
    story, screenshot, tmp_path
):
    """被采样人 is mapped to the name and 证号 to the ID number from what the cells hold, each
    with its reason in Chinese; 采样时刻 (times of day) is left out and says why. The steward
    confirms and 张三丰's row links to him by his ID number."""
    world = story.world
    rows = [
        ["被采样人", "证号", "联络号码", "采样时刻"],
        ["张三丰", ZHANG_ID, "13812345678", "2022-11-05 07:30"],
        ["王小明", "", "13698765432", "2022-11-05 07:41"],
        ["李秀兰", "", "13511112222", "2022-11-05 07:52"],
    ]
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    path = tmp_path / FILE_NAME
    path.write_text(text.getvalue(), encoding="utf-8")

    page = story.log_in(world.steward_a, mobile=True)
    page.goto("/registry/imports/")
    form = page.get_by_test_id("upload-form")
    form.locator("select[name=area]").select_option(str(world.a.community.pk))
    form.locator("input[name=source_name]").fill("外单位 采样名单")
    form.locator("select[name=source_kind]").select_option("testing")
    form.locator("input[name=file]").set_input_files(path)
    form.locator("button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/registry/imports/\d+/$"))
    mapping = page.get_by_test_id("mapping-form")
    expect(column(mapping, "被采样人")).to_have_value("name")
    expect(reason(mapping, "被采样人")).to_have_text("3 个值中有 3 个像中文姓名")
    expect(column(mapping, "证号")).to_have_value("id_number")
    expect(reason(mapping, "证号")).to_have_text("1 个值中有 1 个是有效身份证号")
    expect(column(mapping, "联络号码")).to_have_value("phone")
    expect(reason(mapping, "联络号码")).to_contain_text("个是电话号码")
    expect(column(mapping, "采样时刻")).to_have_value("")
    expect(reason(mapping, "采样时刻")).to_have_text("表头和内容都无法判断这一列是什么")
    summary = page.get_by_test_id("preview-summary")
    expect(summary).to_contain_text(re.compile(r"3\D+0\D"))  # 3 rows, none rejected
    expect(page.locator("#preview table")).to_contain_text("王小明")
    expect(page.locator("main")).not_to_contain_text(ZHANG_ID)
    screenshot(page, "front-line-column-inference.png")

    # The steward can still change a column: the preview follows.
    column(mapping, "联络号码").select_option("")
    expect(page.locator("#preview table")).not_to_contain_text("138****5678")
    column(mapping, "联络号码").select_option("phone")
    expect(page.locator("#preview table")).to_contain_text("138****5678")

    page.get_by_test_id("confirm-import").click()
    expect(page.get_by_test_id("import-progress")).to_have_attribute("data-status", "committed")
    record = SourceRecord.objects.get(batch__file_name=FILE_NAME, row_number=1)
    assert record.person_id == world.resident_a.pk
    # The confirmed mapping is remembered for the source.
    source = ImportSource.objects.get(name="外单位 采样名单")
    assert source.column_mapping["被采样人"] == "name"
    story.assert_no_problems()
