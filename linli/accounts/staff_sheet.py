"""The staff sheet of a go-live: who works where, read and checked without writing.

Columns (the template, linli.accounts.views.staff_template): 姓名, 手机号, 角色 (as the pages
name the roles, e.g. 网格员), 负责区域 (one or more, separated by 、 or ；: an official division
code, or a path of names such as 长延堡社区/第一网格), and optionally 用户名 (the mobile number
when empty). A row is refused, with the reason, when an area lies outside the importer's
jurisdiction; an account that already exists is left as it is (no second SMS).
"""

import re
from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from linli.accounts.models import User
from linli.areas import selectors as area_selectors
from linli.areas.models import Area
from linli.core.actors import Actor
from linli.core.errors import CHINESE, ENGLISH, BilingualError, both_languages, in_language
from linli.core.jurisdiction import path_within
from linli.core.phones import normalise_phone
from linli.core.roles import Role
from linli.core.sheets import Sheet

STAFF_COLUMNS = ["姓名", "手机号", "角色", "负责区域", "用户名"]
STAFF_EXAMPLES = [
    ["王小明", "13800001111", "网格员", "610113001001/第一网格", ""],
    ["李红", "13800002222", "社区书记/主任", "610113001001", ""],
]
_HEADER_ALIASES = {
    "name": "姓名",
    "phone": "手机号",
    "role": "角色",
    "areas": "负责区域",
    "username": "用户名",
    "手机": "手机号",
    "区域": "负责区域",
}
_SPLIT = re.compile(r"[、;；,，\n]+")


@dataclass
class StaffRow:
    row: int
    name: str
    phone: str
    role: str
    username: str
    areas: list[Area] = field(default_factory=list)
    exists: bool = False
    error: str | Promise = ""
    params: dict[str, object] | None = None

    @property
    def role_label(self) -> str:
        return str(Role(self.role).label) if self.role else ""

    @property
    def error_text(self) -> str:
        return str(self.error) % self.params if self.params else str(self.error)

    @property
    def error_both(self) -> str:
        return both_languages(self.error, self.params) if self.error else ""


def _roles() -> dict[str, str]:
    names: dict[str, str] = {}
    for role in Role:
        names[role.value] = role.value
        for language in (CHINESE, ENGLISH):
            names[in_language(role.label, language).lower()] = role.value
    return names


def _area(text: str, by: Actor) -> Area:
    """Returns the area a cell names (a division code or a path of names, the first of which
    may be a code) inside the importer's jurisdiction."""
    parts = [p.strip() for p in text.split("/") if p.strip()]
    if parts and re.fullmatch(r"\d{12}", parts[0]):
        area = Area.objects.filter(code=parts[0]).first()
        names = parts[1:]
    else:
        area, names = None, parts
    for name in names:
        if area is None:
            found = list(area_selectors.visible_areas(by).filter(name=name)[:2])
            if not found:
                found = list(Area.objects.filter(name=name)[:2])
        else:
            found = list(Area.objects.filter(parent=area, name=name)[:2])
        if len(found) != 1:
            raise BilingualError(
                "unknown_area" if not found else "ambiguous_area",
                _("No single area is called %(area)s.") if found else _("No area %(area)s."),
                {"area": text},
            )
        area = found[0]
    if area is None:
        raise BilingualError("unknown_area", _("No area %(area)s."), {"area": text})
    if not path_within(area.path, by):
        raise BilingualError(
            "outside", _("%(area)s is outside your jurisdiction."), {"area": area.name}
        )
    return area


def read_staff(sheets: list[Sheet], *, by: Actor) -> list[StaffRow]:
    """Returns the staff sheet's rows, each checked (an `error` when refused). Raises
    BilingualError when no sheet has the staff columns."""
    roles = _roles()
    for sheet in sheets:
        headers = [_HEADER_ALIASES.get(h.lower(), h) for h in sheet.headers]
        if "姓名" in headers and "角色" in headers:
            break
    else:
        raise BilingualError(
            "no_columns", _("No sheet has the columns 姓名, 手机号, 角色 and 负责区域.")
        )
    rows: list[StaffRow] = []
    seen: set[str] = set()
    for number, raw in sheet.rows:
        cells = {_HEADER_ALIASES.get(k.lower(), k): v for k, v in raw.items()}
        row = StaffRow(number, cells.get("姓名", ""), "", "", "")
        rows.append(row)
        try:
            if not row.name:
                raise BilingualError("no_name", _("The name is empty."))
            row.phone = normalise_phone(cells.get("手机号", ""))
            if len(row.phone) != 11:
                raise BilingualError("not_mobile", _("A mobile number is needed for the SMS."))
            row.role = roles.get(cells.get("角色", "").lower(), "")
            if not row.role:
                raise BilingualError(
                    "role", _("Unknown role %(role)s."), {"role": cells.get("角色", "")}
                )
            row.username = cells.get("用户名", "") or row.phone
            if row.username in seen:
                raise BilingualError(
                    "duplicate", _("%(user)s appears twice."), {"user": row.username}
                )
            seen.add(row.username)
            row.areas = [_area(t, by) for t in _SPLIT.split(cells.get("负责区域", "")) if t.strip()]
            if not row.areas:
                raise BilingualError("no_area", _("Give at least one area."))
            row.exists = User.objects.filter(username=row.username).exists()
        except BilingualError as error:
            row.error, row.params = error.message, error.params
    return rows
