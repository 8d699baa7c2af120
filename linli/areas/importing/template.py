"""The area template a steward downloads: the two sheets with their headers, examples and a
sheet of instructions (the reader ignores it: it has neither sheet's columns)."""

from linli.areas.importing.plan import ADMIN_COLUMNS, ADMIN_SHEET, LOWER_COLUMNS, LOWER_SHEET
from linli.core.sheets import workbook

ADMIN_EXAMPLES = [
    ["610100000000", "西安市", ""],
    ["610113000000", "雁塔区", ""],
    ["610113001000", "小寨路街道", ""],
    ["610113001001", "长延堡社区居委会", ""],
]
LOWER_EXAMPLES = [
    ["610113001001", "第一网格", "", "", "", "", "", "", "", ""],
    ["610113001001", "第一网格", "翠华小区", "翠华苑、翠华花园", "", "", "", "", "", ""],
    ["610113001001", "第一网格", "翠华小区", "", "1号楼", "1单元", "", "1-18", "01-04", "1"],
    ["610113001001", "第一网格", "翠华小区", "", "2号楼", "1单元", "101室", "1", "", ""],
]
INSTRUCTIONS = [
    ["说明"],
    [
        "行政区划：按统计局公布的统计用区划代码填写（12位：省2+市2+区县2+街道乡镇3+社区村3），市、区、街道、社区各一行；上级由代码前缀确定，可直接粘贴公布的代码与名称。"
    ],
    [
        "原区划代码：区划调整后代码变化时填写原代码，系统据此改名、改码或移动原区域，人员与任务随之保留。"
    ],
    [
        "网格小区楼栋：每行写一个网格、小区、楼栋、单元或户，左侧各列写明其所在位置（社区代码、网格、小区……）。"
    ],
    ["小区别名：其他部门文件中对同一小区的叫法，用顿号分隔；登记导入按别名识别小区。"],
    [
        "户：可逐户填写（户 列，如 101室），也可按范围填写："
        "楼层 1-18，每层室号 01-04，不含楼层 1（底层商铺）。"
    ],
    ["同一文件重复导入不会重复创建；导入前先预览，确认后才写入。"],
]


def area_template() -> bytes:
    """Returns the template workbook (XLSX bytes)."""
    return workbook(
        [
            (ADMIN_SHEET, ADMIN_COLUMNS, ADMIN_EXAMPLES),
            (LOWER_SHEET, LOWER_COLUMNS, LOWER_EXAMPLES),
            ("说明", ["说明"], INSTRUCTIONS[1:]),
        ]
    )
