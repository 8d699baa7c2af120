"""Department files with known truth, for measuring the registry's import and matching.

`generate(n_rows, seed, out_dir)` builds a population living in 2–3 compounds and writes what
five departments would send a community about it, each in its own layout, encoding and
habits, with the noise real files have:

- 户籍.csv, household registration: CSV in GB18030; 姓名 公民身份号码 性别 出生日期 户籍地址
  与户主关系 户号.
- 物业.xlsx, property management: XLSX; 业主姓名 联系电话 房号 ("3-2-501") 小区.
- 网格员排查.csv, grid workers' census: CSV in UTF-8 with BOM; 姓名 身份证号 手机号码 现住址
  ("翠华小区3号楼2单元501室") 人员类型 (户籍/常住/流动).
- 核酸检测.csv, testing lab: CSV in UTF-8; 受检者姓名 证件号码 联系电话 采样时间.
- 返乡到达.xlsx, travel arrivals: XLSX with a title row above the header; 姓名 身份证号 手机
  居住地址 ("三栋二单元501").

The population has what makes matching hard: households sharing one contact phone, twins
(same birth date, dwelling and phone), namesakes (张伟 many times over), fathers and sons with
the same name, owners who rent their flat out and live in another one, landlords and workers
who live elsewhere, people who changed their phone number. The noise: ID numbers with a
lower-case x, full-width digits, spaces, 15-digit first-generation numbers, Excel damage
(scientific notation, a trailing 000) in the arrivals workbook, mistyped IDs (the checksum
fails), no ID at all in the property file; homophone typos (同音字), traditional characters and
stray spaces in names; phones with +86, dashes and spaces; addresses written five ways and
compounds by their nicknames.

The truth is the person behind every data row: `truth.csv` (file,row_number,person) uses the
numbering of the `linli link` evaluation contract (data rows counted from 1 after the header).
`pairwise_scores` compares a clustering with it.

    .venv/bin/python bench/registry_data.py --rows 50000 --seed 7 --out var/registry_bench
"""

from __future__ import annotations

import argparse
import csv
import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from linli.core.idnumbers import make_id_number

# Ages count from a fixed day, so a seed always gives the same files.
REFERENCE_DAY = date(2025, 6, 30)
HOME_REGION = "610113"  # 雁塔区
XIAN_REGIONS = ("610102", "610103", "610104", "610111", "610112", "610116")
OTHER_REGIONS = (
    "410102", "411302", "620102", "140105", "510104", "500101", "130102", "371302",
    "420111", "640104", "340104", "430102", "610402", "610302", "610502", "612401",
)  # fmt: skip

# (canonical name, nicknames people write instead)
COMPOUNDS = (
    ("翠华小区", ("翠华", "翠华花园")),
    ("紫薇花园", ("紫薇", "紫薇小区")),
    ("金泰家园", ("金泰", "金泰小区")),
)

# Surnames by rank with their share in percent (王李张 ≈ 7% each), the tail falling off.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙"
    "史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
SURNAME_WEIGHTS = [7.1, 7.0, 6.7, 5.4, 4.6, 3.1, 2.1, 2.0, 1.8, 1.7] + [
    1.4 * 0.972**rank for rank in range(len(SURNAMES) - 10)
]
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛")
# Given-name characters by sex, most popular first (weights fall off with rank).
MALE_CHARS = (
    "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯俊峰建国志东海林文博军杰斌轩宁晨阳辰皓"
    "然子豪毅鹏程天佑睿泽宏亮成龙健兵永德彬旭光振新立庆春生福喜文武"
)
FEMALE_CHARS = (
    "芳娜敏静丽艳娟霞秀英玲桂兰萍红梅琳燕洁雪婷晶莉慧颖倩丹欣怡涵琪佳悦彤萱雨瑶梦雯璐"
    "淑珍凤玉霞春香荣翠芬娥琴云月嘉薇蕾妍思诗晓蓉君"
)
# The names China has most of (公安部 name statistics); they make namesakes common.
COMMON_NAMES = (
    "张伟", "王伟", "王芳", "李伟", "李娜", "张敏", "李静", "王静", "刘伟", "王秀英", "张丽",
    "李秀英", "王丽", "张静", "张秀英", "李强", "王敏", "李敏", "王磊", "刘洋", "王艳", "王勇",
    "李军", "张勇", "李杰", "张杰", "张磊", "王强", "李娟", "王军", "张艳", "张涛", "王涛",
    "李艳", "王超", "李明", "李勇", "王娟", "刘杰", "刘敏", "李霞", "李丽", "张军", "王杰",
    "张强", "王秀兰", "王刚", "王平", "刘芳", "张燕",
)  # fmt: skip
MALE_COMMON = set("伟强磊勇军杰涛超明刚平")
# Characters that sound alike without tones: a volunteer typing a name heard over a phone
# or at a sampling booth picks any of them (同音字).
HOMOPHONES = (
    "伟玮炜纬维薇", "芳方舫", "娜纳", "敏闽民", "静晶京精婧靖", "丽莉俐立力利", "强墙蔷",
    "磊蕾垒", "军君均钧", "勇永咏涌", "杰洁捷婕", "涛韬滔", "明鸣铭茗", "超潮", "刚钢纲",
    "平萍苹坪", "辉慧惠晖", "鹏朋", "华桦骅", "飞菲非斐", "鑫新欣馨心", "波博勃", "斌彬滨宾",
    "宇玉雨语羽予", "浩昊皓颢", "凯楷恺", "俊骏峻", "峰锋丰枫", "建剑健键", "国帼", "志智致治",
    "东冬", "海", "林琳玲凌灵霖", "文雯闻", "轩萱宣", "宁凝", "晨辰臣琛", "阳洋扬杨", "皓浩",
    "然燃", "子梓紫", "豪毫", "毅艺怡仪宜逸", "程成诚城承", "天添", "睿瑞锐", "泽则", "宏红鸿虹洪",
    "亮靓", "龙隆", "健建", "兵冰", "永勇", "德得", "庆清青晴卿", "春纯", "生升", "福富", "喜熙",
    "娟鹃涓", "霞侠", "英莹瑛", "兰岚蓝", "梅美玫媚", "燕艳雁彦", "雪学", "婷亭庭", "慧惠蕙",
    "颖影", "倩茜", "丹单", "涵寒晗含", "琪琦祺淇棋", "佳家嘉加", "悦月越", "彤桐童", "瑶遥尧",
    "梦孟", "璐路露鹭", "淑书舒姝", "珍真贞", "凤风枫", "荣蓉容融", "翠萃", "芬芳", "琴勤芹",
    "云芸韵", "薇微", "蕾磊", "妍研岩", "思斯丝", "诗师", "晓小筱", "君军", "张章", "李理",
    "刘留", "陈晨", "杨阳", "黄皇", "吴武", "周州", "徐许", "孙", "马", "朱", "胡", "郭",
)  # fmt: skip


def _homophones() -> dict[str, str]:
    """Returns char → the other characters in HOMOPHONES with exactly its toneless pinyin."""
    from pypinyin import lazy_pinyin

    sound = {char: lazy_pinyin(char)[0] for group in HOMOPHONES for char in group}
    return {
        char: "".join(c for c in group if c != char and sound[c] == sound[char])
        for group in HOMOPHONES
        for char in group
        if any(c != char and sound[c] == sound[char] for c in group)
    }


HOMOPHONE_OF = _homophones()
CHINESE_DIGITS = "零一二三四五六七八九"
FULLWIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")
FILES = ("户籍.csv", "物业.xlsx", "网格员排查.csv", "核酸检测.csv", "返乡到达.xlsx")


@dataclass(eq=False)
class Dwelling:
    compound: int  # index into COMPOUNDS
    building: int
    unit: int
    room: str  # "501"


@dataclass(eq=False)
class Person:
    pid: str
    name: str
    sex: str  # "M" / "F"
    birth: date
    region: str
    id_number: str
    phone: str = ""  # their own mobile, "" when they have none
    old_phone: str = ""  # the number they had before, still in older files
    home: Dwelling | None = None  # where they live; None for people living elsewhere
    household: list[Person] = field(default_factory=list, repr=False)
    relation: str = ""  # to the head of the registered household
    residency: str = ""  # 户籍 / 常住 / 流动


@dataclass
class Truth:
    """Where the files are and who is behind every data row."""

    out_dir: Path
    files: list[Path]
    rows: dict[tuple[str, int], str]  # (file name, data row from 1) → person id
    persons: int  # distinct people behind the rows

    def sizes(self) -> dict[str, int]:
        return dict(Counter(file for file, _ in self.rows))


class _Population:
    """People, homes and households, drawn from one random stream."""

    def __init__(self, rng: random.Random, dwellings: int) -> None:
        self.rng = rng
        self.people: list[Person] = []
        self.used_ids: set[str] = set()
        self.used_phones: set[str] = set()
        self.compounds = list(range(2 if dwellings < 2500 else 3))
        self.dwellings = self._build_dwellings(dwellings)
        # (dwelling, members head first, rented?, registered household number or "")
        self.households: list[tuple[Dwelling, list[Person], bool, str]] = []
        self.elsewhere: list[tuple[Dwelling, Person, str]] = []  # registered here, live away
        self.vacant: list[Dwelling] = []
        self._fill()

    # ---- places -------------------------------------------------------------------------
    def _build_dwellings(self, total: int) -> list[Dwelling]:
        rng = self.rng
        dwellings: list[Dwelling] = []
        per_compound = -(-total // len(self.compounds))
        for compound in self.compounds:
            floors, units, per_floor = rng.choice(((6, 3, 2), (11, 2, 2), (18, 2, 4), (26, 1, 4)))
            made = 0
            building = 0
            while made < per_compound:
                building += 1
                for unit in range(1, units + 1):
                    for floor in range(1, floors + 1):
                        for n in range(1, per_floor + 1):
                            if made >= per_compound:
                                break
                            dwellings.append(Dwelling(compound, building, unit, f"{floor}{n:02d}"))
                            made += 1
        return dwellings[:total]

    # ---- people -------------------------------------------------------------------------
    def _surname(self) -> str:
        if self.rng.random() < 0.01:
            return self.rng.choice(COMPOUND_SURNAMES)
        return self.rng.choices(SURNAMES, weights=SURNAME_WEIGHTS)[0]

    def _given(self, sex: str, birth: date) -> str:
        rng = self.rng
        chars = MALE_CHARS if sex == "M" else FEMALE_CHARS
        # Single-character given names were the fashion of the 1960s–80s.
        single = 0.3 if birth.year < 1985 else 0.08
        count = 1 if rng.random() < single else 2
        weights = [1 / (rank + 8) for rank in range(len(chars))]
        return "".join(rng.choices(chars, weights=weights, k=count))

    def _name(self, sex: str, birth: date, surname: str = "") -> str:
        rng = self.rng
        if not surname and rng.random() < 0.01:
            common = [n for n in COMMON_NAMES if (n[1] in MALE_COMMON) == (sex == "M")]
            return rng.choice(common)
        surname = surname or self._surname()
        if rng.random() < 0.015:
            # Same given name as one of the commonest: 张伟, 李伟, 刘伟 …
            common = [n[1:] for n in COMMON_NAMES if (n[1] in MALE_COMMON) == (sex == "M")]
            return surname + rng.choice(common)
        return surname + self._given(sex, birth)

    def _id_number(self, region: str, birth: date, sex: str, after: str = "") -> str:
        rng = self.rng
        # The 17th digit is odd for men, even for women; twins get consecutive numbers.
        start = int(after[14:17]) + 1 if after else rng.randrange(1, 990)
        for offset in range(1000):
            sequence = (start + offset) % 1000
            if (sequence % 2 == 1) != (sex == "M"):
                continue
            number = make_id_number(region, birth, sequence)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number
        raise RuntimeError("ran out of ID sequences for one birth date")

    def _phone(self) -> str:
        rng = self.rng
        while True:
            number = rng.choice(("138", "139", "135", "136", "137", "150", "151", "158", "186"))
            number += f"{rng.randrange(10**8):08d}"
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def person(
        self,
        age: int,
        sex: str,
        *,
        surname: str = "",
        region: str = "",
        name: str = "",
        birth: date | None = None,
        twin_of: Person | None = None,
    ) -> Person:
        rng = self.rng
        if birth is None:
            birth = REFERENCE_DAY - timedelta(days=age * 365 + rng.randrange(365))
        region = region or (
            HOME_REGION if rng.random() < 0.7 else rng.choice(XIAN_REGIONS + OTHER_REGIONS)
        )
        person = Person(
            pid=f"P{len(self.people) + 1:06d}",
            name=name or self._name(sex, birth, surname),
            sex=sex,
            birth=birth,
            region=region,
            id_number=self._id_number(region, birth, sex, twin_of.id_number if twin_of else ""),
        )
        # Phones: nearly every working-age adult, fewer of the elderly, no small children.
        if age >= 70:
            has_phone = 0.55
        elif age >= 16:
            has_phone = 0.97
        else:
            has_phone = 0.5 if age >= 12 else 0.0
        if rng.random() < has_phone:
            person.phone = self._phone()
            if rng.random() < 0.10:
                person.old_phone = self._phone()
        self.people.append(person)
        return person

    # ---- households ---------------------------------------------------------------------
    def _family(self, rented: bool) -> list[Person]:
        rng = self.rng
        kinds = (
            {"single": 0.35, "couple": 0.25, "nuclear": 0.28, "shared": 0.12}
            if rented
            else {
                "single": 0.12,
                "elderly_alone": 0.10,
                "couple": 0.24,
                "nuclear": 0.32,
                "three_gen": 0.12,
                "father_son": 0.10,
            }
        )
        kind = rng.choices(list(kinds), weights=list(kinds.values()))[0]
        region = rng.choice(OTHER_REGIONS) if rented and rng.random() < 0.7 else ""
        members: list[Person] = []

        def add(
            age: int,
            sex: str,
            relation: str,
            surname: str = "",
            *,
            name: str = "",
            birth: date | None = None,
            twin_of: Person | None = None,
        ) -> Person:
            person = self.person(
                age, sex, surname=surname, region=region, name=name, birth=birth, twin_of=twin_of
            )
            person.relation = relation
            members.append(person)
            return person

        def couple(age: int) -> Person:
            head = add(age, "M", "户主")
            add(max(20, age - rng.randint(-1, 4)), "F", "配偶")
            return head

        def children(head: Person, parent_age: int, count: int) -> None:
            surname = _surname_of(head.name)
            age = max(0, parent_age - rng.randint(23, 34))
            if count == 2 and rng.random() < 0.08:
                # Twins: same birth day, consecutive ID numbers, often a shared character.
                sex = rng.choice("MF")
                first = add(age, sex, "子" if sex == "M" else "女", surname)
                twin_name = ""
                if len(first.name) == len(surname) + 2 and rng.random() < 0.6:
                    twin_name = first.name[:-1] + rng.choice(
                        [
                            c
                            for c in (MALE_CHARS if sex == "M" else FEMALE_CHARS)
                            if c != first.name[-1]
                        ]
                    )
                add(age, sex, "子" if sex == "M" else "女", surname, name=twin_name,
                    birth=first.birth, twin_of=first)  # fmt: skip
                return
            for _ in range(count):
                sex = rng.choice("MF")
                add(age, sex, "子" if sex == "M" else "女", surname)
                age = max(0, age - rng.randint(2, 8))

        if kind == "single":
            add(rng.randint(20, 60), rng.choice("MF"), "户主")
        elif kind == "elderly_alone":
            add(rng.randint(65, 92), "F" if rng.random() < 0.65 else "M", "户主")
        elif kind == "couple":
            couple(rng.randint(22, 85))
        elif kind == "nuclear":
            age = rng.randint(27, 55)
            children(couple(age), age, 1 if rng.random() < 0.6 else 2)
        elif kind == "three_gen":
            age = rng.randint(55, 80)
            head = couple(age)
            son = add(age - rng.randint(24, 32), "M", "子", _surname_of(head.name))
            add(max(20, _age(son) - rng.randint(-1, 3)), "F", "儿媳")
            sex = rng.choice("MF")
            add(max(0, _age(son) - rng.randint(24, 32)), sex, "孙子" if sex == "M" else "孙女",
                _surname_of(head.name))  # fmt: skip
        elif kind == "father_son":
            # An adult son still at home; one in eight was given his father's very name.
            age = rng.randint(48, 75)
            head = couple(age)
            same = rng.random() < 0.125
            add(age - rng.randint(22, 30), "M", "子", _surname_of(head.name),
                name=head.name if same else "")  # fmt: skip
        else:  # shared flat: unrelated young people
            for _ in range(rng.randint(2, 3)):
                add(rng.randint(20, 35), rng.choice("MF"), "其他" if members else "户主")
        for person in members:
            person.household = members
        return members

    def _fill(self) -> None:
        rng = self.rng
        for dwelling in self.dwellings:
            draw = rng.random()
            if draw < 0.07:
                self.vacant.append(dwelling)
                continue
            rented = draw < 0.27
            members = self._family(rented)
            registered = not rented and rng.random() < 0.88
            number = f"{HOME_REGION}{len(self.households) + 1:06d}" if registered else ""
            for person in members:
                person.home = dwelling
                person.residency = (
                    "户籍" if registered else ("流动" if person.region in OTHER_REGIONS else "常住")
                )
            self.households.append((dwelling, members, rented, number))
            if registered and rng.random() < 0.25:
                # A grown-up child registered here who lives elsewhere (人户分离).
                head = members[0]
                away = self.person(
                    rng.randint(20, 45), rng.choice("MF"), surname=_surname_of(head.name)
                )
                away.relation = "子" if away.sex == "M" else "女"
                away.household = members
                self.elsewhere.append((dwelling, away, number))

    def outsider(self) -> Person:
        """Returns a person who lives elsewhere (a landlord, a worker, a visitor)."""
        rng = self.rng
        return self.person(rng.randint(20, 70), rng.choice("MF"))

    def residents(self) -> list[Person]:
        return [person for _, members, _, _ in self.households for person in members]


# ---- how each department writes things ------------------------------------------------------
def _age(person: Person) -> int:
    return (REFERENCE_DAY - person.birth).days // 365


def _surname_of(name: str) -> str:
    return name[:2] if name[:2] in COMPOUND_SURNAMES else name[:1]


def _noisy_name(rng: random.Random, name: str, typo: float, traditional: float) -> str:
    """Returns the name as someone typed it: homophones, traditional characters, spaces."""
    if rng.random() < typo:
        positions = [i for i, char in enumerate(name) if char in HOMOPHONE_OF]
        # Mostly in the given name: people get surnames right more often.
        given = [i for i in positions if i >= len(_surname_of(name))]
        pool = given if given and rng.random() < 0.9 else positions
        if pool:
            i = rng.choice(pool)
            name = name[:i] + rng.choice(HOMOPHONE_OF[name[i]]) + name[i + 1 :]
    if rng.random() < traditional:
        name = _traditional(name)
    draw = rng.random()
    if draw < 0.03:
        name = name[0] + " " + name[1:]
    elif draw < 0.05:
        name = " " + name + " "
    elif draw < 0.06:
        name = name[0] + "\u3000" + name[1:]
    return name


_S2T = None


def _traditional(text: str) -> str:
    global _S2T
    if _S2T is None:
        import opencc

        _S2T = opencc.OpenCC("s2t")
    return _S2T.convert(text)


def _noisy_id(rng: random.Random, number: str, *, typo: float, missing: float) -> str:
    """Returns the ID number as a form or a volunteer wrote it."""
    draw = rng.random()
    if draw < missing:
        return ""
    if draw < missing + typo:
        # One digit wrong: the check character no longer fits (almost always).
        i = rng.randrange(6, 17)
        number = number[:i] + str((int(number[i]) + rng.randint(1, 9)) % 10) + number[i + 1 :]
    if number.endswith("X") and rng.random() < 0.5:
        number = number[:-1] + "x"
    draw = rng.random()
    if draw < 0.03 and number[6:8] == "19" and number[6:10] < "1985":
        number = number[:6] + number[8:17]  # a first-generation card: 15 digits
    elif draw < 0.05:
        number = number.translate(FULLWIDTH)
    elif draw < 0.08:
        number = f"{number[:6]} {number[6:14]} {number[14:]}"
    elif draw < 0.09:
        number = " " + number + " "
    return number


def _noisy_phone(rng: random.Random, phone: str) -> str:
    if not phone:
        return ""
    draw = rng.random()
    if draw < 0.05:
        return "+86 " + phone
    if draw < 0.09:
        return f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"
    if draw < 0.12:
        return f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    if draw < 0.13:
        return "86" + phone
    return phone


def _contact_phone(rng: random.Random, person: Person, old_share: float) -> str:
    """Returns the phone a department has for a person: theirs, or a family member's."""
    if person.phone:
        if person.old_phone and rng.random() < old_share:
            return person.old_phone
        return person.phone
    # Children and the elderly without a phone are reached through the household's phone.
    adults = [m for m in person.household if m.phone and m is not person]
    return adults[0].phone if adults else ""


def _chinese_number(n: int) -> str:
    """Returns 1–999 the way people write building numbers: 三, 十二, 二十三, 一百零五."""
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    if not hundreds:
        if not tens:
            return CHINESE_DIGITS[ones]
        return (
            ("" if tens == 1 else CHINESE_DIGITS[tens])
            + "十"
            + (CHINESE_DIGITS[ones] if ones else "")
        )
    text = CHINESE_DIGITS[hundreds] + "百"
    if tens:
        text += CHINESE_DIGITS[tens] + "十"
    elif ones:
        text += "零"
    return text + (CHINESE_DIGITS[ones] if ones else "")


def _compound_name(rng: random.Random, dwelling: Dwelling, alias_share: float) -> str:
    name, aliases = COMPOUNDS[dwelling.compound]
    return rng.choice(aliases) if rng.random() < alias_share else name


def _census_address(rng: random.Random, d: Dwelling) -> str:
    compound = _compound_name(rng, d, 0.3)
    draw = rng.random()
    if draw < 0.6:
        return f"{compound}{d.building}号楼{d.unit}单元{d.room}室"
    if draw < 0.8:
        return f"{compound}{d.building}栋{d.unit}单元{d.room}"
    if draw < 0.9:
        return f"{compound} {d.building}-{d.unit}-{d.room}"
    return f"{compound}{d.building}号楼{d.unit}单元{d.room}号"


def _registration_address(rng: random.Random, d: Dwelling) -> str:
    compound = COMPOUNDS[d.compound][0]
    if rng.random() < 0.7:
        return f"陕西省西安市雁塔区小寨路街道{compound}{d.building}号楼{d.unit}单元{d.room}室"
    return f"西安市雁塔区{compound}{d.building}栋{d.unit}单元{d.room}号"


def _arrival_address(rng: random.Random, d: Dwelling) -> str:
    draw = rng.random()
    if draw < 0.45:
        return f"{_chinese_number(d.building)}栋{_chinese_number(d.unit)}单元{d.room}"
    if draw < 0.75:
        compound = _compound_name(rng, d, 0.5)
        return f"{compound}{_chinese_number(d.building)}栋{_chinese_number(d.unit)}单元{d.room}室"
    return f"{_compound_name(rng, d, 0.5)}{d.building}号楼{d.unit}单元{d.room}"


def _birth_text(rng: random.Random, birth: date) -> str:
    draw = rng.random()
    if draw < 0.6:
        return birth.isoformat()
    if draw < 0.85:
        return f"{birth.year}/{birth.month}/{birth.day}"
    return birth.strftime("%Y%m%d")


# ---- the five files ------------------------------------------------------------------------
def _registration_rows(pop: _Population, rng: random.Random) -> list[tuple[list[str], Person]]:
    rows = []
    away_by_number: dict[str, list[Person]] = {}
    for _, person, number in pop.elsewhere:
        away_by_number.setdefault(number, []).append(person)
    for dwelling, members, _, number in pop.households:
        if not number:
            continue
        for person in members + away_by_number.get(number, []):
            cells = [
                person.name,
                # The registry's own numbers are clean; a few first-generation ones remain.
                person.id_number[:6] + person.id_number[8:17]
                if person.birth.year < 1960 and rng.random() < 0.05
                else person.id_number,
                "男" if person.sex == "M" else "女",
                _birth_text(rng, person.birth),
                _registration_address(rng, dwelling),
                person.relation,
                number,
            ]
            rows.append((cells, person))
    return rows


def _property_rows(pop: _Population, rng: random.Random) -> list[tuple[list[str], Person]]:
    rows = []
    residents = [p for p in pop.residents() if _age(p) >= 25]

    def owner_row(owner: Person, dwelling: Dwelling) -> None:
        # Property files are old: a changed phone is often still the old one here.
        phone = _contact_phone(rng, owner, old_share=0.6)
        if not owner.phone and rng.random() < 0.5:
            phone = ""
        house = f"{dwelling.building}-{dwelling.unit}-{dwelling.room}"
        if rng.random() < 0.1:
            house = f"{dwelling.building}栋{dwelling.unit}单元{dwelling.room}"
        cells = [
            _noisy_name(rng, owner.name, typo=0.02, traditional=0.01),
            _noisy_phone(rng, phone),
            house,
            _compound_name(rng, dwelling, 0.4),
        ]
        rows.append((cells, owner))

    for dwelling, members, rented, _ in pop.households:
        if rented:
            # The landlord: a resident of another flat here, or someone living elsewhere.
            owner = rng.choice(residents) if rng.random() < 0.25 else pop.outsider()
            owner_row(owner, dwelling)
            continue
        adults = [m for m in members if m.relation in ("户主", "配偶")]
        owner = adults[1] if len(adults) > 1 and rng.random() < 0.25 else adults[0]
        owner_row(owner, dwelling)
        if len(adults) > 1 and rng.random() < 0.15:
            owner_row(adults[1] if owner is adults[0] else adults[0], dwelling)
    for dwelling in pop.vacant:
        if rng.random() < 0.7:
            owner_row(pop.outsider(), dwelling)
    rng.shuffle(rows)
    return rows


def _census_rows(pop: _Population, rng: random.Random) -> list[tuple[list[str], Person]]:
    rows = []
    for dwelling, members, _, _ in pop.households:
        if rng.random() < 0.06:
            continue  # nobody home on three visits
        address = _census_address(rng, dwelling)
        for person in members:
            cells = [
                _noisy_name(rng, person.name, typo=0.015, traditional=0.01),
                _noisy_id(rng, person.id_number, typo=0.005, missing=0.03),
                _noisy_phone(rng, _contact_phone(rng, person, old_share=0.15)),
                address,
                person.residency,
            ]
            rows.append((cells, person))
    return rows


def _testing_rows(
    pop: _Population, rng: random.Random, count: int
) -> list[tuple[list[str], Person]]:
    residents = pop.residents()
    workers = [pop.outsider() for _ in range(max(1, count // 40))]
    rows = []
    start = datetime(2022, 11, 1, 7, 0)
    for _ in range(count):
        person = rng.choice(workers) if rng.random() < 0.06 else rng.choice(residents)
        taken = start + timedelta(minutes=rng.randrange(60 * 24 * 20))
        cells = [
            _noisy_name(rng, person.name, typo=0.03, traditional=0.01),
            _noisy_id(rng, person.id_number, typo=0.01, missing=0.02),
            _noisy_phone(rng, _contact_phone(rng, person, old_share=0.05)),
            taken.strftime("%Y-%m-%d %H:%M"),
        ]
        rows.append((cells, person))
    return rows


def _arrival_rows(pop: _Population, rng: random.Random) -> list[tuple[list[str | int], Person]]:
    rows: list[tuple[list[str | int], Person]] = []
    for dwelling, members, _, _ in pop.households:
        for person in members:
            if _age(person) >= 16 and rng.random() < 0.07:
                rows.append((_arrival_cells(rng, person, dwelling), person))
        if rng.random() < 0.02:
            # A relative visiting from out of town stays with the family.
            visitor = pop.person(
                rng.randint(20, 70), rng.choice("MF"), region=rng.choice(OTHER_REGIONS)
            )
            rows.append((_arrival_cells(rng, visitor, dwelling), visitor))
    rng.shuffle(rows)
    return rows


def _arrival_cells(rng: random.Random, person: Person, dwelling: Dwelling) -> list[str | int]:
    id_cell: str | int = _noisy_id(rng, person.id_number, typo=0.005, missing=0.01)
    draw = rng.random()
    if draw < 0.06 and person.id_number[-1] != "X":
        # Typed into a number cell: Excel keeps 15 significant digits (…000).
        id_cell = int(person.id_number[:15] + "000")
    elif draw < 0.12:
        mantissa = f"{int(person.id_number[:6]) / 1e5:.5f}".rstrip("0")
        id_cell = f"{mantissa}E+17"  # what a CSV export of that cell shows: 6.10113E+17
    return [
        _noisy_name(rng, person.name, typo=0.02, traditional=0.01),
        id_cell,
        _noisy_phone(rng, person.phone or _contact_phone(rng, person, old_share=0)),
        _arrival_address(rng, dwelling),
    ]


def _write_csv(path: Path, header: list[str], rows: Iterable[list], encoding: str) -> None:
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)


def _write_xlsx(path: Path, header: list[str], rows: Iterable[list], title: str = "") -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Sheet1")
    if title:
        sheet.append([title])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)


def generate(n_rows: int, seed: int, out_dir: Path) -> Truth:
    """Writes the five department files (about n_rows data rows in all) and truth.csv.

    The testing lab's file takes up the difference, so the total is n_rows exactly unless
    n_rows is too small for the other four files. Returns the truth.
    """
    rng = random.Random(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # ~5 rows per dwelling in the four fixed files; the testing lab adds about a third more.
    population = _Population(rng, max(4, round(n_rows * 0.15)))
    registration = _registration_rows(population, rng)
    ownership = _property_rows(population, rng)
    census = _census_rows(population, rng)
    arrivals = _arrival_rows(population, rng)
    fixed = len(registration) + len(ownership) + len(census) + len(arrivals)
    testing = _testing_rows(population, rng, max(n_rows - fixed, max(1, n_rows // 20)))

    outputs: list[tuple[str, list[tuple[list, Person]]]] = [
        ("户籍.csv", registration),
        ("物业.xlsx", ownership),
        ("网格员排查.csv", census),
        ("核酸检测.csv", testing),
        ("返乡到达.xlsx", arrivals),
    ]
    _write_csv(
        out_dir / "户籍.csv",
        ["姓名", "公民身份号码", "性别", "出生日期", "户籍地址", "与户主关系", "户号"],
        (cells for cells, _ in registration),
        "gb18030",
    )
    _write_xlsx(
        out_dir / "物业.xlsx",
        ["业主姓名", "联系电话", "房号", "小区"],
        (cells for cells, _ in ownership),
    )
    _write_csv(
        out_dir / "网格员排查.csv",
        ["姓名", "身份证号", "手机号码", "现住址", "人员类型"],
        (cells for cells, _ in census),
        "utf-8-sig",
    )
    _write_csv(
        out_dir / "核酸检测.csv",
        ["受检者姓名", "证件号码", "联系电话", "采样时间"],
        (cells for cells, _ in testing),
        "utf-8",
    )
    _write_xlsx(
        out_dir / "返乡到达.xlsx",
        ["姓名", "身份证号", "手机", "居住地址"],
        (cells for cells, _ in arrivals),
        title="小寨路街道返乡到达人员登记表（2022年11月）",
    )

    rows: dict[tuple[str, int], str] = {}
    for file, written in outputs:
        for number, (_, person) in enumerate(written, start=1):
            rows[(file, number)] = person.pid
    with (out_dir / "truth.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["file", "row_number", "person"])
        writer.writerows((file, number, person) for (file, number), person in rows.items())
    return Truth(
        out_dir=out_dir,
        files=[out_dir / file for file in FILES],
        rows=rows,
        persons=len(set(rows.values())),
    )


def read_truth(path: Path) -> dict[tuple[str, int], str]:
    """Returns truth.csv as {(file, row_number): person}."""
    with Path(path).open(encoding="utf-8", newline="") as source:
        return {
            (row["file"], int(row["row_number"])): row["person"] for row in csv.DictReader(source)
        }


def pairwise_scores(
    predicted: Mapping[tuple[str, int], str], truth: Mapping[tuple[str, int], str]
) -> tuple[float, float, float]:
    """Returns (precision, recall, F1) over pairs of rows put in one cluster.

    Counts pairs through the contingency table of cluster × person (n·(n−1)/2 per cell)
    instead of enumerating pairs, so 50,000 rows take milliseconds. Rows of the truth with
    no prediction count as singletons; predictions for rows not in the truth are ignored.
    """
    cells: Counter[tuple[str, str]] = Counter()
    clusters: Counter[str] = Counter()
    persons: Counter[str] = Counter()
    for key, person in truth.items():
        cluster = predicted.get(key)
        cluster = f"\0singleton:{key[0]}:{key[1]}" if cluster is None else str(cluster)
        cells[(cluster, person)] += 1
        clusters[cluster] += 1
        persons[person] += 1

    def pairs(counts: Iterable[int]) -> int:
        return sum(n * (n - 1) // 2 for n in counts)

    both = pairs(cells.values())
    predicted_pairs = pairs(clusters.values())
    true_pairs = pairs(persons.values())
    precision = both / predicted_pairs if predicted_pairs else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("var/registry_bench"))
    args = parser.parse_args()
    truth = generate(args.rows, args.seed, args.out)
    for file, count in truth.sizes().items():
        print(f"{file:<16} {count:>7,} rows")
    print(f"{'people':<16} {truth.persons:>7,}")
    print(f"written to {truth.out_dir}")


if __name__ == "__main__":
    main()
