"""Reading real department files: encodings, delimiters, workbooks, title rows, bad files."""

import io
from datetime import date, datetime

import openpyxl
import pytest

from linli.core.idnumbers import InvalidIdNumber, make_id_number, parse_id_number
from linli.core.phones import normalise_phone
from linli.registry.importing.mapping import suggest_mapping
from linli.registry.importing.normalise import normalise_row
from linli.registry.importing.readers import UnreadableFile, number_text, read_table

VALID_ID = make_id_number("610103", date(1990, 1, 1), 123)


def xlsx_bytes(sheets: dict[str, list[list[object]]], hidden: tuple[str, ...] = ()) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
        if title in hidden:
            sheet.sheet_state = "hidden"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- CSV -----------------------------------------------------------------------------------


def test_gb18030_csv_with_chinese_headers():
    """A CSV saved by Chinese Excel (GB18030) is detected and read with its Chinese text."""
    text = f"姓名,公民身份号码,联系电话,现住址\n張三,{VALID_ID},13812345678,翠华小区3-2-501\n"
    table = read_table(text.encode("gb18030"), "户籍.csv")
    assert table.encoding == "gb18030"
    assert table.headers == ["姓名", "公民身份号码", "联系电话", "现住址"]
    assert table.rows == [["張三", VALID_ID, "13812345678", "翠华小区3-2-501"]]
    assert table.sheet is None


def test_gbk_and_gb2312_files_are_read_as_gb18030():
    """Files in the older GBK and GB2312 encodings decode through GB18030 unchanged."""
    for codec in ("gbk", "gb2312"):
        table = read_table("姓名,手机\n李四,13912345678\n".encode(codec), "物业.csv")
        assert table.encoding == "gb18030"
        assert table.rows == [["李四", "13912345678"]]


def test_utf8_with_bom():
    """A UTF-8 file with a byte-order mark reports utf-8-sig and the BOM is not in the header."""
    data = "\ufeff姓名,手机\n王五,13712345678\n".encode()
    table = read_table(data, "names.csv")
    assert table.encoding == "utf-8-sig"
    assert table.headers == ["姓名", "手机"]


def test_plain_utf8():
    """A file that is valid UTF-8 is read as UTF-8, not guessed as GB18030."""
    table = read_table("姓名,手机\n赵六,13612345678\n".encode(), "names.csv")
    assert table.encoding == "utf-8"
    assert table.rows == [["赵六", "13612345678"]]


@pytest.mark.parametrize("delimiter", ["\t", ";", "|"])
def test_delimiter_is_sniffed(delimiter):
    """Tab, semicolon and pipe separated files split into the right columns."""
    lines = [
        ["姓名", "身份证号", "住址"],
        ["张三", VALID_ID, "翠华小区3号楼2单元501室, 北门"],
        ["李四", "", "紫薇花园A座1201"],
    ]
    data = "\n".join(delimiter.join(line) for line in lines).encode("gb18030")
    table = read_table(data, "list.txt" if delimiter == "\t" else "list.csv")
    assert table.headers == lines[0]
    assert table.rows == lines[1:]


def test_utf16_tab_separated_unicode_text():
    """Excel's "Unicode text" export (UTF-16 with BOM, tabs) is read too."""
    data = "姓名\t手机\r\n张三\t13812345678\r\n".encode("utf-16")
    table = read_table(data, "export.txt")
    assert table.encoding == "utf-16"
    assert table.rows == [["张三", "13812345678"]]


def test_title_rows_above_the_header_are_skipped():
    """A title row such as "2022年X社区核酸检测名单" above the header is not taken for it."""
    text = (
        "2022年长延堡社区核酸检测名单,,,\n"
        "填报单位：长延堡社区,,,\n"
        "序号,受检者姓名,证件号码,手机号码\n"
        f"1,张三,{VALID_ID},13812345678\n"
    )
    table = read_table(text.encode("gb18030"), "核酸.csv")
    assert table.headers == ["序号", "受检者姓名", "证件号码", "手机号码"]
    assert table.header_row == 3
    assert table.rows == [["1", "张三", VALID_ID, "13812345678"]]


def test_cells_are_stripped_rows_padded_and_trailing_blank_rows_dropped():
    """Cells lose surrounding spaces (also full-width and NBSP), short rows are padded,
    blank rows inside the data are kept so that row numbers match the file, blank rows at
    the end are dropped."""
    text = "姓名,手机,住址\n 张三\u3000, 13812345678\xa0,\n李四\n,,\n王五,,\n,,\n\n,,\n"
    table = read_table(text.encode(), "x.csv")
    assert table.rows == [
        ["张三", "13812345678", ""],
        ["李四", "", ""],
        ["", "", ""],
        ["王五", "", ""],
    ]


def test_duplicate_and_blank_headers_get_distinct_names():
    """Two columns called 电话 and an unnamed column stay distinct, so a mapping can name them."""
    text = "姓名,电话,电话,\n张三,13812345678,13912345678,备注\n"
    table = read_table(text.encode(), "x.csv")
    assert table.headers == ["姓名", "电话", "电话(2)", "列4"]
    assert suggest_mapping(table.headers) == {
        "姓名": "name",
        "电话": "phone",
        "电话(2)": "",
        "列4": "",
    }


def test_cells_wider_than_the_header_keep_their_values():
    """Data beyond the last header cell gets a generated column name instead of vanishing."""
    table = read_table("姓名,手机\n张三,13812345678,备注\n".encode(), "x.csv")
    assert table.headers == ["姓名", "手机", "列3"]
    assert table.rows == [["张三", "13812345678", "备注"]]


def test_excel_text_forcing_tricks_are_undone():
    """An ID written as ="…" or with a leading apostrophe (to stop Excel rounding it)
    comes back as the digits."""
    text = f'姓名,身份证号\n张三,="{VALID_ID}"\n李四,\'{VALID_ID}\n'
    table = read_table(text.encode(), "x.csv")
    assert [row[1] for row in table.rows] == [VALID_ID, VALID_ID]


def test_header_only_file_has_no_rows():
    """A file with a header and no data is readable and simply has no rows."""
    table = read_table("姓名,手机\n".encode(), "x.csv")
    assert table.headers == ["姓名", "手机"]
    assert table.rows == []


def test_unknown_headers_fall_back_to_the_first_row():
    """A header nobody has a synonym for is still the header; the steward maps it by hand."""
    table = read_table("甲,乙\n张三,某某\n".encode(), "x.csv")
    assert table.headers == ["甲", "乙"]
    assert table.rows == [["张三", "某某"]]


# --- XLSX ----------------------------------------------------------------------------------


def department_workbook() -> bytes:
    return xlsx_bytes(
        {
            "名单": [
                ["2022年X社区核酸检测名单"],
                ["姓名", "身份证号", "手机", "出生日期", "身份证号(文本)", "体温"],
                ["张三", int(VALID_ID), 13812345678, date(1990, 1, 1), VALID_ID, 36.5],
                ["李四", 610103199001011234, 13912345678.0, datetime(1985, 5, 6), "", 37],
                ["王五", 610103900101123, None, None, "", None],
            ]
        }
    )


def test_xlsx_every_cell_is_text_and_title_row_skipped():
    """Workbook cells come back as the text Excel shows: phones as digits without ".0",
    dates as ISO dates, text IDs untouched; the title row above the header is skipped."""
    table = read_table(department_workbook(), "名单.xlsx")
    assert table.encoding == "xlsx"
    assert table.sheet == "名单"
    assert table.header_row == 2
    assert table.headers == ["姓名", "身份证号", "手机", "出生日期", "身份证号(文本)", "体温"]
    zhang, li, wang = table.rows
    assert zhang[2] == "13812345678"
    assert li[2] == "13912345678"
    assert zhang[3] == "1990-01-01"
    assert li[3] == "1985-05-06"
    assert zhang[4] == VALID_ID
    assert zhang[5] == "36.5"
    assert li[5] == "37"
    assert wang[2:4] == ["", ""]
    assert normalise_phone(zhang[2]) == "13812345678"


def test_xlsx_numeric_id_is_never_a_valid_id():
    """An 18-digit ID stored as a number has passed through a float: it comes back in
    scientific notation and the validator flags it as Excel damage, even when the number
    written into the cell was a valid ID."""
    table = read_table(department_workbook(), "名单.xlsx")
    for row in table.rows[:2]:
        assert "e+17" in row[1]
        with pytest.raises(InvalidIdNumber) as caught:
            parse_id_number(row[1])
        assert caught.value.code == "excel_scientific"


def test_xlsx_fifteen_digit_id_survives_as_a_number():
    """A 15-digit first-generation ID fits in a float exactly, so it comes back as digits
    and is upgraded by the validator."""
    wang = read_table(department_workbook(), "名单.xlsx").rows[2]
    assert wang[1] == "610103900101123"
    assert parse_id_number(wang[1]).upgraded_from_15


def test_xlsx_through_mapping_and_normalising():
    """End to end: the damaged numeric ID is kept out of the clean row with its problem code,
    the text ID next to it is accepted."""
    table = read_table(department_workbook(), "名单.xlsx")
    mapping = suggest_mapping(table.headers)
    assert mapping["身份证号"] == "id_number"
    assert mapping["手机"] == "phone"
    assert mapping["出生日期"] == "birth_date"
    fields = [mapping[header] for header in table.headers]
    first = table.rows[0]
    row = normalise_row(1, {f: v for f, v in zip(fields, first, strict=True) if f})
    assert row.id_number == ""
    assert row.id_problem == "excel_scientific"
    assert row.birth_date == date(1990, 1, 1)  # from the date column instead
    assert row.phone == "13812345678"
    assert [warning.code for warning in row.warnings] == ["excel_scientific"]


def test_xlsx_skips_empty_and_hidden_sheets():
    """The first visible sheet with data is read; an empty first sheet and a hidden sheet of
    drop-down values are passed over."""
    data = xlsx_bytes(
        {
            "选项": [["男"], ["女"]],
            "空": [],
            "居民": [["姓名", "性别"], ["张三", "男"]],
        },
        hidden=("选项",),
    )
    table = read_table(data, "x.xlsx")
    assert table.sheet == "居民"
    assert table.rows == [["张三", "男"]]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (13812345678.0, "13812345678"),
        (13812345678, "13812345678"),
        (610103900101123.0, "610103900101123"),
        (6.101031990010112e17, "6.10103199001011e+17"),
        (610103199001011234, "6.10103199001011e+17"),
        (36.5, "36.5"),
        (0.1 + 0.2, "0.3"),
        (1e20, "100000000000000000000"),
        (0.0, "0"),
        (-3.0, "-3"),
    ],
)
def test_number_text(value, text):
    """Numbers render as Excel shows them; more than 15 significant digits never pass as digits."""
    assert number_text(value) == text


# --- unreadable files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (b"", "x.csv", "empty"),
        (b" \r\n\r\n", "x.csv", "empty"),
        (b"", "x.xlsx", "empty"),
        (b"%PDF-1.4 ...", "x.pdf", "unknown_format"),
        (b"anything", "noextension", "unknown_format"),
        (b"PK\x03\x04 this is not a workbook", "x.xlsx", "corrupt_workbook"),
        (b"plain text pretending", "x.xlsx", "corrupt_workbook"),
    ],
)
def test_unreadable_files(data, filename, code):
    """Empty files, unknown types and corrupt workbooks are refused with a code and a message
    in Chinese and English."""
    with pytest.raises(UnreadableFile) as caught:
        read_table(data, filename)
    assert caught.value.code == code
    assert caught.value.zh
    assert caught.value.en


def test_truncated_workbook_is_corrupt():
    """A workbook cut short in transfer is refused as corrupt, not read in part."""
    data = department_workbook()
    with pytest.raises(UnreadableFile) as caught:
        read_table(data[: len(data) // 2], "x.xlsx")
    assert caught.value.code == "corrupt_workbook"


def test_empty_workbook():
    """A workbook whose sheets are all empty is refused as empty."""
    with pytest.raises(UnreadableFile) as caught:
        read_table(xlsx_bytes({"Sheet1": []}), "x.xlsx")
    assert caught.value.code == "empty"


def test_too_many_rows():
    """More data rows than the configured maximum are refused before anything is imported."""
    data = ("姓名\n" + "张三\n" * 4).encode()
    assert len(read_table(data, "x.csv", max_rows=4).rows) == 4
    with pytest.raises(UnreadableFile) as caught:
        read_table(data, "x.csv", max_rows=3)
    assert caught.value.code == "too_many_rows"


def test_too_many_rows_in_a_workbook():
    """The limit applies to workbooks too."""
    data = xlsx_bytes({"s": [["姓名", "手机"], *[["张三", 13812345678]] * 5]})
    with pytest.raises(UnreadableFile) as caught:
        read_table(data, "x.xlsx", max_rows=4)
    assert caught.value.code == "too_many_rows"


def test_header_row_counts_leading_blank_rows():
    """header_row is the header's row number in the file, blank rows above it included."""
    table = read_table("\n,,\n标题\n姓名,手机\n张三,13812345678\n".encode(), "x.csv")
    assert table.header_row == 4
    data = xlsx_bytes({"s": [[], [None, "标题"], [None, "姓名", "手机"], [None, "张三", "1"]]})
    table = read_table(data, "x.xlsx")
    assert table.header_row == 3
    assert table.headers == ["姓名", "手机"]


def test_a_file_without_a_header_row_is_all_data():
    """A file whose first row is data has no header: its columns are named by position and
    every row is data (the columns are recognised by their values)."""
    table = read_table(f"张三,{VALID_ID},13812345678\n李四,,13912345678\n".encode(), "x.csv")
    assert table.headers == ["列1", "列2", "列3"]
    assert table.rows[0] == ["张三", VALID_ID, "13812345678"]
    assert len(table.rows) == 2
    assert table.header_row == 0


def test_a_header_no_synonym_knows_is_found_above_the_data():
    """A title row, then a header of spellings no synonym knows, then data: the header is the
    row just above the data, not the title."""
    text = f"人员名单（2026年）\n被采样人,证号,联络号码\n张三,{VALID_ID},13812345678\n"
    table = read_table(text.encode(), "x.csv")
    assert table.headers == ["被采样人", "证号", "联络号码"]
    assert table.rows == [["张三", VALID_ID, "13812345678"]]
    assert table.header_row == 2


def test_a_header_merged_over_two_rows_takes_the_upper_text():
    """A workbook whose header spans two rows (group titles merged across columns above, a
    cell merged down keeping its text in the upper row): the lower row is the header, its
    blank cells taken from above."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["基本信息", None, "联系方式"])
    sheet.append([None, "身份证号", "手机"])
    sheet.append(["张三", VALID_ID, "13812345678"])
    sheet.merge_cells("A1:A2")
    sheet["A1"] = "姓名"
    sheet.merge_cells("C1:C1")
    buffer = io.BytesIO()
    book.save(buffer)
    table = read_table(buffer.getvalue(), "x.xlsx")
    assert table.headers == ["姓名", "身份证号", "手机"]
    assert table.rows == [["张三", VALID_ID, "13812345678"]]
