"""Placing imported addresses on the area tree, creating the dwellings files reveal.

Department files name dwellings the tree does not have yet (a property file lists every room;
the tree was drawn from last year's census). A compound named in a file is looked for, by
name or alias with the same folding as names (full-width, traditional characters, generic
suffixes), first below the import's target, then anywhere in its community, then in its
street (only where the importer may see): a file imported into 第二网格 that names 西电名居
of 第一网格 lands in that 西电名居, never in a second one. Missing buildings, units and
dwellings are created under the compound found.

A compound found nowhere is created under the community's "to be assigned" grid (待分配网格)
so a worker can move it later, unless the data steward chose otherwise in the preview
(`choices`: create it in a named grid of the community, or take it for an existing
compound). `plan` tells the preview every compound the file would create or find outside
the target, with its row count, before anything is written.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Q
from django.utils.translation import gettext_lazy

from linli.areas.models import PATH_SEGMENT_WIDTH, Area, AreaLevel
from linli.areas.services import segment
from linli.core.bulkload import insert_rows
from linli.core.errors import both_languages
from linli.core.jurisdiction import Viewer, paths_of
from linli.registry.importing.addresses import CompoundResolver, compound_key
from linli.registry.importing.records import AddressParts
from linli.registry.services.people import Address

UNASSIGNED_GRID = "待分配网格"
NAME_LENGTH = Area._meta.get_field("name").max_length or 100

# A steward's choice for a compound, stored on the batch by its compound_key:
#   "new:"        create it in the community's 待分配网格 (the default for an unknown one)
#   "new:<id>"    create it in that grid of the community
#   "area:<id>"   it is that existing compound
NEW_UNASSIGNED = "new:"
NEW_IN = "new:"
SAME_AS = "area:"

DwellingKey = tuple[int, str, str, str]  # compound id, building, unit, room


def _segment_number(path: str) -> int:
    return int(path[-(PATH_SEGMENT_WIDTH + 1) : -1])


IMPORT_TARGET = gettext_lazy("Import into a community or a grid.")


@dataclass
class CompoundPlan:
    """What an import does with one compound its file names, for the preview to show."""

    key: str  # compound_key of the name: what a choice is stored under
    written: str  # the name as the file first spells it (simplified characters)
    rows: int
    found: Area | None  # the existing compound it was matched to, if any
    choice: str  # the steward's choice or the default (see the constants above)
    chosen: bool  # whether `choice` is the steward's

    @property
    def creates(self) -> bool:
        return self.choice.startswith(NEW_IN)


@dataclass(frozen=True)
class Created:
    """An area the import created at the compound level or above (each is audited)."""

    area: Area
    written: str  # the name the file gave, "" for the to-be-assigned grid
    rows: int


class DwellingIndex:
    """The compounds, buildings, units and dwellings where one import places its rows.

    Loads the target's subtree (without its buildings, units and dwellings when `dwellings`
    is False: enough for `plan`, not for placing), the grids and compounds of its community,
    and the compounds of its street that `importer` may see (all of them when no one is
    named: a command).
    """

    def __init__(
        self,
        target: Area,
        *,
        choices: dict[str, str] | None = None,
        importer: Viewer = None,
        dwellings: bool = True,
    ) -> None:
        if target.level not in (AreaLevel.COMMUNITY, AreaLevel.GRID):
            raise ValueError(both_languages(IMPORT_TARGET))
        self.target = target
        self.choices = dict(choices or {})
        self.by_id: dict[int, Area] = {}
        self.children: dict[int, dict[str, Area]] = defaultdict(dict)
        self.last_segment: dict[int | None, int] = defaultdict(int)
        below = Area.objects.filter(path__startswith=target.path)
        if not dwellings:
            # The preview places nothing: the compounds are enough, and a community's tens of
            # thousands of dwellings would cost every change of the mapping.
            below = below.filter(level__in=(target.level, AreaLevel.GRID, AreaLevel.COMPOUND))
        self._add(below)
        community = target if target.level == AreaLevel.COMMUNITY else target.parent
        self.community = community
        self._add(
            Area.objects.filter(
                Q(pk=community.pk)
                | Q(
                    path__startswith=community.path,
                    level__in=(AreaLevel.GRID, AreaLevel.COMPOUND),
                )
            ).exclude(path__startswith=target.path)
        )
        scope = community.parent if community.parent_id else community
        nearby = Area.objects.filter(path__startswith=scope.path, level=AreaLevel.COMPOUND)
        if importer is not None:
            # Compounds a steward chose were checked when the import was confirmed.
            chosen = [_id_of(c) for c in self.choices.values() if c.startswith(SAME_AS)]
            allowed = Q(pk__in=[pk for pk in chosen if pk])
            for prefix in paths_of(importer):
                allowed |= Q(path__startswith=prefix)
            nearby = nearby.filter(allowed)
        nearby_compounds = list(
            nearby.exclude(path__startswith=community.path).select_related("parent__parent")
        )
        self._add(nearby_compounds)
        self.outside_labels = {
            a.pk: f"{a.parent.parent.name} · {a.parent.name}"
            for a in nearby_compounds
            if a.parent and a.parent.parent
        }
        compounds = [a for a in self.by_id.values() if a.level == AreaLevel.COMPOUND]
        self.compounds = {a.pk: a for a in compounds}
        in_target = [a for a in compounds if a.path.startswith(target.path)]
        in_community = [a for a in compounds if a.path.startswith(community.path)]
        # Nearest first: a name matched below the target wins over the same name elsewhere.
        self.resolvers = [
            _resolver(in_target),
            _resolver(in_community),
            _resolver(compounds),
        ]
        self._resolved: dict[str, Area | None] = {}
        self._loaded_subtrees: set[int] = {
            a.pk for a in compounds if a.path.startswith(target.path)
        }
        self.created: list[Created] = []
        self.created_counts: Counter[str] = Counter()
        self._new_ids: set[int] = set()
        self.used_compounds: set[int] = set()  # compounds place_all put a dwelling in

    def _add(self, areas: Iterable[Area]) -> None:
        for area in areas:
            if area.pk in self.by_id:
                continue
            self.by_id[area.pk] = area
            if area.parent_id is not None:
                self.children[area.parent_id][area.name] = area
            self.last_segment[area.parent_id] = max(
                self.last_segment[area.parent_id], _segment_number(area.path)
            )

    def grids(self) -> list[Area]:
        """Returns the grids of the target's community, in tree order."""
        return sorted(
            (
                a
                for a in self.by_id.values()
                if a.level == AreaLevel.GRID and a.parent_id == self.community.pk
            ),
            key=lambda a: a.path,
        )

    def compound_choices(self) -> list[Area]:
        """Returns the compounds a steward may take a written name for: the community's."""
        return sorted(
            (a for a in self.compounds.values() if a.path.startswith(self.community.path)),
            key=lambda a: a.path,
        )

    def place_label(self, area: Area) -> str:
        """Returns where a compound is, for a page: its grid, and its community when it is
        not the target's."""
        if area.pk in self.outside_labels:
            return self.outside_labels[area.pk]
        grid = self.by_id.get(area.parent_id) if area.parent_id else None
        return grid.name if grid else ""

    def parts_of(self, dwelling_id: int) -> dict[str, str]:
        """Returns {level: name} from the dwelling up to the target, from the tree in memory."""
        names: dict[str, str] = {}
        node = self.by_id.get(dwelling_id)
        while node is not None:
            names[node.level] = node.name
            node = self.by_id.get(node.parent_id) if node.parent_id else None
        return names

    def address_of(self, dwelling: Area) -> Address:
        """Returns the dwelling's address from the tree in memory (no query per person)."""
        names = self.parts_of(dwelling.pk)
        return Address(
            building=names.get(AreaLevel.COMPOUND, "") + names.get(AreaLevel.BUILDING, ""),
            dwelling=names.get(AreaLevel.UNIT, "") + names.get(AreaLevel.DWELLING, ""),
        )

    def canonical_compound(self, written: str) -> str:
        """Returns the tree's name for a written compound, or the written name if unknown."""
        found = self.existing_compound(written)
        return found.name if found is not None else written

    def existing_compound(self, written: str) -> Area | None:
        """Returns the existing compound a written name is (the steward's choice, else the
        nearest match by name or alias), or None when the import would create it."""
        if not written:
            return None
        if written in self._resolved:
            return self._resolved[written]
        choice = self.choices.get(compound_key(written), "")
        found = None
        if choice.startswith(SAME_AS):
            found = self.compounds.get(_id_of(choice) or 0)
        elif not choice.startswith(NEW_IN):
            for resolver in self.resolvers:
                answer = resolver.resolve(written)
                if answer is not None:
                    found = self.compounds[int(answer)]
                    break
        self._resolved[written] = found
        return found

    def _compound_of(self, parts: AddressParts) -> Area | None:
        found = self.existing_compound(parts.compound)
        if found is None and not parts.compound:
            # No compound written: the target's only compound, when it has exactly one.
            own = [a for a in self.compounds.values() if a.path.startswith(self.target.path)]
            if len(own) == 1:
                return own[0]
        return found

    def plan(self, addresses: Sequence[AddressParts]) -> list[CompoundPlan]:
        """Returns, for every compound the addresses name that is not already below the
        target, what the import would do with it and how many of the addresses name it:
        the compounds it would create first, then those found elsewhere. Writes nothing."""
        rows: Counter[str] = Counter()
        spelling: dict[str, str] = {}
        found_of: dict[str, Area | None] = {}
        for parts in addresses:
            if not parts.compound or not parts.is_dwelling:
                continue  # placed nowhere below the target: its compound is never created
            key = compound_key(parts.compound)
            rows[key] += 1
            if key not in spelling:
                spelling[key] = parts.compound
                found_of[key] = self.existing_compound(parts.compound)
        plans = []
        for key, count in rows.items():
            found = found_of[key]
            if found is not None and found.path.startswith(self.target.path):
                continue
            chosen = key in self.choices
            default = f"{SAME_AS}{found.pk}" if found is not None else NEW_UNASSIGNED
            plans.append(
                CompoundPlan(
                    key=key,
                    written=spelling[key],
                    rows=count,
                    found=found,
                    choice=self.choices[key] if chosen else default,
                    chosen=chosen,
                )
            )
        plans.sort(key=lambda p: (not p.creates, -p.rows, p.key))
        return plans

    def prepare(self, addresses: Sequence[AddressParts]) -> None:
        """Loads the buildings, units and dwellings of the compounds outside the target that
        the addresses name (once), so existing dwellings there are found and matched."""
        wanted = {
            c.pk
            for parts in addresses
            if (c := self._compound_of(parts)) is not None and c.pk not in self._loaded_subtrees
        }
        if not wanted:
            return
        condition = Q()
        for pk in wanted:
            condition |= Q(path__startswith=self.compounds[pk].path)
        self._add(Area.objects.filter(condition).exclude(level=AreaLevel.COMPOUND))
        self._loaded_subtrees |= wanted

    def scope_paths(self) -> list[str]:
        """Returns the paths whose people the import's rows may be matched against: the
        target's, and the compounds outside it that the rows were placed in."""
        outside = [
            self.compounds[pk].path
            for pk in sorted(self._loaded_subtrees)
            if not self.compounds[pk].path.startswith(self.target.path)
        ]
        return [self.target.path, *outside]

    def existing_dwelling(self, parts: AddressParts) -> Area | None:
        """Returns the dwelling if the tree already has it (no creation)."""
        compound = self._compound_of(parts)
        if compound is None or not parts.is_dwelling:
            return None
        node = self.children[compound.pk].get(parts.building)
        if node is not None and parts.unit:
            node = self.children[node.pk].get(parts.unit)
        if node is None:
            return None
        return self.children[node.pk].get(parts.room)

    def place_all(self, addresses: list[AddressParts]) -> list[Area | None]:
        """Returns the dwelling of each address, creating missing nodes level by level.

        Must run inside the import's transaction: created areas roll back with a failed import.
        Addresses without a building and a room, or without a compound when the target has
        more than one, get no dwelling (the person still belongs to the target area).
        Compounds (and the to-be-assigned grid) created are listed in `created`, the count of
        every level created in `created_counts`.
        """
        self.prepare(addresses)
        new_rows: Counter[str] = Counter()
        spelling: dict[str, str] = {}
        for parts in addresses:
            if parts.compound and parts.is_dwelling and self._compound_of(parts) is None:
                key = compound_key(parts.compound)
                new_rows[key] += 1
                spelling.setdefault(key, parts.compound)
        made = self._create_compounds(spelling, new_rows)
        keys: list[DwellingKey | None] = []
        for parts in addresses:
            compound = self._compound_of(parts)
            if compound is None and parts.compound:
                compound = made.get(compound_key(parts.compound))
            if compound is None or not parts.is_dwelling:
                keys.append(None)
            else:
                keys.append((compound.pk, parts.building, parts.unit, parts.room))
        floors = {
            key: parts.floor for key, parts in zip(keys, addresses, strict=True) if key is not None
        }
        wanted = sorted({k for k in keys if k is not None})
        self.used_compounds |= {k[0] for k in wanted}
        buildings = self._ensure_level({(c, b) for c, b, _, _ in wanted}, AreaLevel.BUILDING)
        units = self._ensure_level(
            {(buildings[(c, b)].pk, u) for c, b, u, _ in wanted if u},
            AreaLevel.UNIT,
        )
        rooms: dict[DwellingKey, tuple[int, str]] = {}
        for key in wanted:
            compound_id, building, unit, room = key
            parent = buildings[(compound_id, building)]
            if unit:
                parent = units[(parent.pk, unit)]
            rooms[key] = (parent.pk, room)
        dwellings = self._ensure_level(
            set(rooms.values()),
            AreaLevel.DWELLING,
            floors={rooms[k]: floors[k] for k in wanted},
        )
        return [dwellings[rooms[k]] if k is not None else None for k in keys]

    def _create_compounds(self, spelling: dict[str, str], rows: Counter[str]) -> dict[str, Area]:
        """Creates the compounds nobody has drawn, where the steward chose (else in the
        to-be-assigned grid). Returns {compound key: compound}."""
        wanted: dict[tuple[int, str], list[str]] = defaultdict(list)
        for key, written in sorted(spelling.items()):
            grid = self._grid_for(self.choices.get(key, NEW_UNASSIGNED))
            # A name longer than the column holds (an address whose prefix was not understood)
            # is cut rather than failing the whole import.
            wanted[(grid.pk, written[:NAME_LENGTH])].append(key)
        created = self._ensure_level(set(wanted), AreaLevel.COMPOUND)
        made = {}
        for (grid_id, written), keys in wanted.items():
            area = created[(grid_id, written)]
            made.update(dict.fromkeys(keys, area))
            self.compounds[area.pk] = area
            self._loaded_subtrees.add(area.pk)
            if area.pk in self._new_ids:
                self.created.append(
                    Created(area=area, written=written, rows=sum(rows[k] for k in keys))
                )
        return made

    def _grid_for(self, choice: str) -> Area:
        grid_id = _id_of(choice) if choice.startswith(NEW_IN) else None
        grid = self.by_id.get(grid_id or 0)
        if grid is not None and grid.level == AreaLevel.GRID:
            return grid  # self.by_id holds no grid outside the community
        return self._unassigned_grid()

    def _unassigned_grid(self) -> Area:
        community = self.community
        grid = self.children[community.pk].get(UNASSIGNED_GRID)
        if grid is None:
            grid = self._ensure_level({(community.pk, UNASSIGNED_GRID)}, AreaLevel.GRID)[
                (community.pk, UNASSIGNED_GRID)
            ]
            self.created.append(Created(area=grid, written="", rows=0))
        return grid

    def _ensure_level(
        self,
        wanted: set[tuple[int, str]],
        level: AreaLevel,
        floors: dict[tuple[int, str], int | None] | None = None,
    ) -> dict[tuple[int, str], Area]:
        """Returns {(parent id, name): area} for every wanted child, creating the missing."""
        found: dict[tuple[int, str], Area] = {}
        new: list[Area] = []
        for parent_id, name in sorted(wanted):
            existing = self.children[parent_id].get(name)
            if existing is not None:
                found[(parent_id, name)] = existing
                continue
            parent = self.by_id[parent_id]
            self.last_segment[parent_id] += 1
            area = Area(
                parent_id=parent_id,
                level=level,
                name=name,
                path=parent.path + segment(self.last_segment[parent_id]),
                floor=(floors or {}).get((parent_id, name)),
            )
            new.append(area)
            found[(parent_id, name)] = area
        insert_rows(Area, new)
        for area in new:
            self.by_id[area.pk] = area
            self.children[area.parent_id][area.name] = area
            self._new_ids.add(area.pk)
        self.created_counts[level] += len(new)
        return found


def _id_of(choice: str) -> int | None:
    number = choice.partition(":")[2]
    return int(number) if number.isdigit() else None


def _resolver(compounds: list[Area]) -> CompoundResolver:
    return CompoundResolver.of_names({str(a.pk): [a.name, *(a.aliases or [])] for a in compounds})
