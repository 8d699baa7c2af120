"""From the go-live area sheets to a plan of what would change in the tree, without writing.

The sheets (docs/go-live.md shows them):

- 行政区划 (administrative divisions), as the statistics bureau publishes them: 统计用区划代码,
  名称, and optionally 原区划代码 (the code the area had before a re-division: the area is then
  re-coded, renamed and moved instead of created anew). City to community; the level and the
  parent come from the code itself.
- 网格小区楼栋 (below the community): one row per thing, its place given by the columns to its
  left: 社区代码, 网格, 小区, 小区别名, 楼栋, 单元, then either 户 (one dwelling) or 楼层 + 每层室号
  (a range, "1-18" and "01-04"), with 不含楼层 for floors that hold no homes (ground-floor
  shops).

A CSV holds one of the two (told apart by its headers). Existing areas are matched first (an
administrative area by its code; a compound by its name or an alias anywhere in its community,
so placing it under another grid moves it; the rest by name under their parent), so the same
file twice plans nothing. The plan lists what would be created, renamed, re-coded, moved and
given aliases, and the rows refused with the reason; linli.areas.services.import_area_tree
writes it.
"""

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from linli.areas.importing import divisions
from linli.areas.models import ADMINISTRATIVE_LEVELS, LEVEL_ORDER, Area, AreaLevel
from linli.core.actors import Actor
from linli.core.errors import BilingualError, both_languages
from linli.core.jurisdiction import path_within
from linli.core.sheets import Sheet

ADMIN_SHEET = "行政区划"
LOWER_SHEET = "网格小区楼栋"
ADMIN_COLUMNS = ["统计用区划代码", "名称", "原区划代码"]
LOWER_COLUMNS = [
    "社区代码",
    "网格",
    "小区",
    "小区别名",
    "楼栋",
    "单元",
    "户",
    "楼层",
    "每层室号",
    "不含楼层",
]
# English headers are accepted too (a file written by a script).
_HEADER_ALIASES = {
    "code": "统计用区划代码",
    "区划代码": "统计用区划代码",
    "代码": "统计用区划代码",
    "name": "名称",
    "former_code": "原区划代码",
    "community_code": "社区代码",
    "grid": "网格",
    "compound": "小区",
    "aliases": "小区别名",
    "building": "楼栋",
    "unit": "单元",
    "dwelling": "户",
    "floors": "楼层",
    "rooms": "每层室号",
    "exclude_floors": "不含楼层",
}
MAX_FLOORS = 200
_RANGE = re.compile(r"^\s*(\d+)\s*(?:层|室)?\s*(?:[-–—~～至到])\s*(\d+)\s*(?:层|室)?\s*$")
_LIST_SPLIT = re.compile(r"[、,，;；/\s]+")


@dataclass(eq=False, slots=True)
class Node:
    """An area as the plan sees it: an existing one (pk set) or one to create."""

    level: str
    name: str
    parent: "Node | None" = field(repr=False)
    code: str = ""
    aliases: list[str] = field(default_factory=list)
    floor: int | None = None
    pk: int | None = None
    path: str = ""  # the existing area's path before the import
    row: str = ""  # where a new node was first named: "sheet:row"
    children: dict[str, "Node"] = field(default_factory=dict, repr=False)
    original: tuple[str, str, tuple[str, ...], "Node | None"] | None = field(
        default=None, repr=False
    )

    def __post_init__(self) -> None:
        if self.pk is not None:
            self.original = (self.name, self.code, tuple(self.aliases), self.parent)

    @property
    def names(self) -> str:
        """The path of names from the city down ("西安市/雁塔区/…")."""
        chain, node = [], self
        while node is not None:
            chain.append(node.name)
            node = node.parent
        return "/".join(reversed(chain))

    @property
    def depth(self) -> int:
        return LEVEL_ORDER.index(self.level)


@dataclass
class RowError:
    sheet: str
    row: int
    message: str | Promise
    params: dict[str, object] | None = None

    @property
    def text(self) -> str:
        return str(self.message) % self.params if self.params else str(self.message)

    @property
    def both(self) -> str:
        return both_languages(self.message, self.params)


@dataclass
class Plan:
    creates: list[Node] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    existing: list[Node] = field(default_factory=list)
    rows: int = 0

    @property
    def renames(self) -> list[tuple[Node, str]]:
        return [(n, n.original[0]) for n in self.existing if n.original and n.name != n.original[0]]

    @property
    def recodes(self) -> list[tuple[Node, str]]:
        return [(n, n.original[1]) for n in self.existing if n.original and n.code != n.original[1]]

    @property
    def moves(self) -> list[tuple[Node, "Node | None"]]:
        return [
            (n, n.original[3])
            for n in self.existing
            if n.original and n.parent is not n.original[3]
        ]

    @property
    def alias_additions(self) -> list[tuple[Node, list[str]]]:
        changed = []
        for n in self.existing:
            if n.original and list(n.aliases) != list(n.original[2]):
                changed.append((n, [a for a in n.aliases if a not in n.original[2]]))
        return changed

    @property
    def created_counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for node in self.creates:
            counts[node.level] += 1
        return dict(counts)

    @property
    def created_by_level(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = defaultdict(int)
        for node in self.creates:
            counts[node.level] += 1
        return [(AreaLevel(level).label, counts[level]) for level in LEVEL_ORDER if counts[level]]

    @property
    def changes(self) -> int:
        return (
            len(self.creates)
            + len(self.renames)
            + len(self.recodes)
            + len(self.moves)
            + len(self.alias_additions)
        )

    @property
    def digest(self) -> str:
        """Identifies what the plan would do: a confirmation applies the plan it previewed."""
        lines = [f"+{n.level}:{n.names}:{n.code}:{n.floor}" for n in self.creates]
        changed = {id(n) for n, _x in [*self.renames, *self.recodes, *self.alias_additions]}
        changed |= {id(n) for n, _x in self.moves}
        lines += [
            f"~{n.pk}:{n.name}:{n.code}:{','.join(n.aliases)}:{n.names}"
            for n in self.existing
            if id(n) in changed
        ]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()


class _Planner:
    def __init__(self, by: Actor | None) -> None:
        self.by = by
        self.plan = Plan()
        self.by_code: dict[str, Node] = {}
        self.by_pk: dict[int, Node] = {}
        self.loaded_communities: set[int] = set()
        self.file_codes: set[str] = set()
        self._load_administrative()

    # --- the existing tree -------------------------------------------------------------
    def _adopt(self, rows: list[dict[str, object]]) -> None:
        for row in sorted(rows, key=lambda r: str(r["path"])):
            parent = self.by_pk.get(row["parent_id"]) if row["parent_id"] else None  # type: ignore[arg-type]
            node = Node(
                level=str(row["level"]),
                name=str(row["name"]),
                parent=parent,
                code=str(row["code"]),
                aliases=list(row["aliases"] or []),  # type: ignore[call-overload]
                floor=row["floor"],  # type: ignore[arg-type]
                pk=int(row["pk"]),  # type: ignore[call-overload]
                path=str(row["path"]),
            )
            self.by_pk[node.pk] = node  # type: ignore[index]
            if parent is not None:
                parent.children.setdefault(node.name, node)
            if node.code:
                self.by_code[node.code] = node
            self.plan.existing.append(node)

    def _load_administrative(self) -> None:
        fields = ("pk", "parent_id", "level", "name", "code", "aliases", "floor", "path")
        self._adopt(list(Area.objects.filter(level__in=ADMINISTRATIVE_LEVELS).values(*fields)))

    def _load_below(self, community: Node) -> None:
        if community.pk is None or community.pk in self.loaded_communities:
            return
        self.loaded_communities.add(community.pk)
        fields = ("pk", "parent_id", "level", "name", "code", "aliases", "floor", "path")
        rows = Area.objects.filter(path__startswith=community.path).exclude(pk=community.pk)
        self._adopt(list(rows.values(*fields)))

    # --- jurisdiction ---------------------------------------------------------------------
    def _inside(self, node: Node | None) -> bool:
        """Whether the importer answers for `node` (a new node: for its nearest existing
        ancestor). No importer (a command run on the server) answers for everything."""
        if self.by is None or getattr(self.by, "is_superuser", False):
            return True
        while node is not None and node.pk is None:
            node = node.parent
        return node is not None and path_within(node.path, self.by)

    def _error(self, sheet: str, row: int, message: str | Promise, **params: object) -> None:
        self.plan.errors.append(RowError(sheet, row, message, params or None))

    # --- 行政区划 ----------------------------------------------------------------------------
    def administrative(self, sheet: Sheet) -> None:
        def order(item: tuple[int, dict[str, str]]) -> int:
            try:
                return LEVEL_ORDER.index(divisions.level_of(item[1].get("统计用区划代码", "")))
            except BilingualError:
                return 0

        for number, cells in sorted(sheet.rows, key=order):
            self.plan.rows += 1
            try:
                self._administrative_row(sheet.name, number, cells)
            except BilingualError as error:
                self._error(sheet.name, number, error.message, **(error.params or {}))

    def _administrative_row(self, sheet: str, number: int, cells: dict[str, str]) -> None:
        code = cells.get("统计用区划代码", "")
        name = divisions.community_name(cells.get("名称", "").strip())
        former = cells.get("原区划代码", "")
        level = divisions.level_of(code)
        if not name:
            raise BilingualError("no_name", _("The name is empty."))
        if code in self.file_codes:
            raise BilingualError("duplicate", _("Code %(code)s appears twice."), {"code": code})
        self.file_codes.add(code)
        wanted_parent_code = divisions.parent_code(code)
        parent = self.by_code.get(wanted_parent_code) if wanted_parent_code else None
        if wanted_parent_code and parent is None:
            raise BilingualError(
                "no_parent",
                _("The parent code %(parent)s is neither in the file nor in the tree."),
                {"parent": wanted_parent_code},
            )
        if former and former != code:
            divisions.level_of(former)
        node = self.by_code.get(code) or (self.by_code.get(former) if former else None)
        if node is None and parent is not None:
            # An area created by hand without its code (the demo, the admin) is adopted.
            twin = parent.children.get(name)
            if twin is not None and twin.level == level and not twin.code:
                node = twin
        if node is not None and node.level != level:
            raise BilingualError(
                "level",
                _("Code %(code)s is a %(level)s but the tree has it as a %(existing)s."),
                {
                    "code": code,
                    "level": AreaLevel(level).label,
                    "existing": AreaLevel(node.level).label,
                },
            )
        if node is None:
            if not self._inside(parent):
                raise BilingualError("outside", _("Outside your jurisdiction."))
            node = Node(level=level, name=name, parent=parent, code=code, row=f"{sheet}:{number}")
            if parent is not None:
                parent.children.setdefault(name, node)
            self.by_code[code] = node
            self.plan.creates.append(node)
            return
        changed = node.name != name or node.code != code or node.parent is not parent
        if changed and not (self._inside(node) and self._inside(parent)):
            raise BilingualError("outside", _("Outside your jurisdiction."))
        if node.code and node.code != code:
            self.by_code.pop(node.code, None)
        self.by_code[code] = node
        if node.parent is not parent:
            self._reparent(node, parent)
        if node.name != name and node.parent is not None:
            node.parent.children.pop(node.name, None)
            node.parent.children.setdefault(name, node)
        node.name, node.code = name, code

    def _reparent(self, node: Node, parent: Node | None) -> None:
        if node.parent is not None:
            node.parent.children.pop(node.name, None)
        node.parent = parent
        if parent is not None:
            parent.children.setdefault(node.name, node)

    # --- 网格小区楼栋 ------------------------------------------------------------------------
    def lower(self, sheet: Sheet) -> None:
        for number, cells in sheet.rows:
            self.plan.rows += 1
            try:
                self._lower_row(sheet.name, number, cells)
            except BilingualError as error:
                self._error(sheet.name, number, error.message, **(error.params or {}))

    def _child(self, parent: Node, level: str, name: str, where: str) -> Node:
        node = parent.children.get(name)
        if node is not None:
            if node.level != level:
                raise BilingualError(
                    "level_clash",
                    _("%(name)s already exists under %(parent)s at another level."),
                    {"name": name, "parent": parent.name},
                )
            return node
        if not self._inside(parent):
            raise BilingualError("outside", _("Outside your jurisdiction."))
        node = Node(level=level, name=name, parent=parent, row=where)
        parent.children[name] = node
        self.plan.creates.append(node)
        return node

    def _compound(
        self, community: Node, grid: Node, name: str, aliases: list[str], where: str
    ) -> Node:
        known = None
        for candidate in self._compounds_of(community):
            if name == candidate.name or name in candidate.aliases:
                known = candidate
                break
        if known is None:
            node = self._child(grid, AreaLevel.COMPOUND, name, where)
        else:
            node = known
            if node.parent is not grid:
                if not self._inside(node):
                    raise BilingualError("outside", _("Outside your jurisdiction."))
                self._reparent(node, grid)
            if node.name != name and node.name in aliases:
                # The file's name is the official one now; the old one stays an alias.
                grid.children.pop(node.name, None)
                node.aliases = [*node.aliases, node.name]
                node.name = name
                grid.children[name] = node
        for alias in aliases:
            if alias != node.name and alias not in node.aliases:
                node.aliases = [*node.aliases, alias]
        if name in node.aliases:
            node.aliases = [a for a in node.aliases if a != name]
        return node

    def _compounds_of(self, community: Node) -> list[Node]:
        return [
            c
            for grid in community.children.values()
            for c in grid.children.values()
            if c.level == AreaLevel.COMPOUND
        ]

    def _lower_row(self, sheet: str, number: int, cells: dict[str, str]) -> None:
        where = f"{sheet}:{number}"
        code = cells.get("社区代码", "")
        if not code:
            raise BilingualError("no_community", _("The community code is empty."))
        if divisions.level_of(code) != AreaLevel.COMMUNITY:
            raise BilingualError(
                "not_community", _("Code %(code)s is not a community's."), {"code": code}
            )
        community = self.by_code.get(code)
        if community is None:
            raise BilingualError(
                "unknown_community",
                _("Community %(code)s is neither in the file nor in the tree."),
                {"code": code},
            )
        self._load_below(community)
        if not self._inside(community):
            raise BilingualError("outside", _("Outside your jurisdiction."))
        grid_name = cells.get("网格", "")
        if not grid_name:
            raise BilingualError("no_grid", _("The grid is empty."))
        node = self._child(community, AreaLevel.GRID, grid_name, where)
        compound = cells.get("小区", "")
        aliases = [a for a in _LIST_SPLIT.split(cells.get("小区别名", "")) if a]
        if compound:
            node = self._compound(community, node, compound, aliases, where)
        elif aliases:
            raise BilingualError("alias_without_compound", _("Aliases are given but no compound."))
        building = cells.get("楼栋", "")
        if building:
            if not compound:
                raise BilingualError("no_compound", _("A building needs its compound."))
            node = self._child(node, AreaLevel.BUILDING, building, where)
        unit = cells.get("单元", "")
        if unit:
            if not building:
                raise BilingualError("no_building", _("A unit needs its building."))
            node = self._child(node, AreaLevel.UNIT, unit, where)
        dwellings = _dwellings(cells)
        if dwellings and not building:
            raise BilingualError("no_building", _("Dwellings need their building."))
        for name, floor in dwellings:
            dwelling = self._child(node, AreaLevel.DWELLING, name, where)
            if dwelling.pk is None:
                dwelling.floor = floor


def _number_range(text: str, what: str | Promise) -> tuple[int, int, int]:
    """Returns (first, last, width of the first as written) of "1-18" or "01–04"."""
    text = text.strip()
    if text.isdigit():
        return int(text), int(text), len(text)
    match = _RANGE.match(text)
    if not match or int(match[1]) > int(match[2]):
        raise BilingualError(
            "range", _("%(what)s %(text)s is not a range like 1-18."), {"what": what, "text": text}
        )
    return int(match[1]), int(match[2]), len(match[1])


def _dwellings(cells: dict[str, str]) -> list[tuple[str, int | None]]:
    """Returns (name, floor) of the row's dwellings: the one named, or the range expanded."""
    single, floors, rooms = cells.get("户", ""), cells.get("楼层", ""), cells.get("每层室号", "")
    if single:
        if rooms:
            raise BilingualError("both", _("Give either one dwelling or a range, not both."))
        name = single if not single.isdigit() else single + "室"
        digits = re.match(r"^(\d+)", single)
        if floors.isdigit():
            return [(name, int(floors))]
        floor = int(digits[1][:-2]) if digits and len(digits[1]) > 2 else None
        return [(name, floor)]
    if not floors and not rooms:
        return []
    if not (floors and rooms):
        raise BilingualError("half_range", _("A range needs both floors and rooms per floor."))
    first, last, _width = _number_range(floors, _("Floors"))
    if last > MAX_FLOORS:
        raise BilingualError("floors", _("More than %(n)s floors."), {"n": MAX_FLOORS})
    room_first, room_last, width = _number_range(rooms, _("Rooms"))
    excluded: set[int] = set()
    for part in _LIST_SPLIT.split(cells.get("不含楼层", "").replace("层", " ")):
        if part:
            if not part.isdigit():
                raise BilingualError(
                    "exclude", _("Excluded floors %(text)s are not numbers."), {"text": part}
                )
            excluded.add(int(part))
    return [
        (f"{floor}{room:0{width}d}室", floor)
        for floor in range(first, last + 1)
        if floor not in excluded
        for room in range(room_first, room_last + 1)
    ]


def _normalise(sheet: Sheet) -> Sheet:
    headers = [_HEADER_ALIASES.get(h.lower(), _HEADER_ALIASES.get(h, h)) for h in sheet.headers]
    rows = [
        (
            number,
            {
                _HEADER_ALIASES.get(k.lower(), _HEADER_ALIASES.get(k, k)): v
                for k, v in cells.items()
            },
        )
        for number, cells in sheet.rows
    ]
    return Sheet(name=sheet.name, headers=headers, rows=rows)


def plan_import(sheets: list[Sheet], *, by: Actor | None) -> Plan:
    """Returns what importing the sheets would change, reading the tree and writing nothing.
    Administrative sheets are planned first, so the rows below can name new communities.
    Raises BilingualError when no sheet has the columns of either kind."""
    planner = _Planner(by)
    sheets = [_normalise(s) for s in sheets]
    admin = [s for s in sheets if "统计用区划代码" in s.headers]
    lower = [s for s in sheets if "网格" in s.headers and "社区代码" in s.headers]
    if not admin and not lower:
        raise BilingualError(
            "no_columns",
            _("No sheet has the template's columns (统计用区划代码 or 社区代码 and 网格)."),
        )
    for sheet in admin:
        planner.administrative(sheet)
    for sheet in lower:
        planner.lower(sheet)
    return planner.plan
