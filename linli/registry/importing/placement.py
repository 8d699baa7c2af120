"""Placing imported addresses on the area tree, creating the dwellings files reveal.

Department files name dwellings the tree does not have yet (a property file lists every room;
the tree was drawn from last year's census). Known compounds are matched by name or alias;
missing buildings, units and dwellings are created under them; a compound nobody has drawn
is created under the community's "unassigned" grid so a worker can move it later.
"""

from collections import defaultdict
from dataclasses import dataclass

from django.utils.translation import gettext_lazy

from linli.areas.models import PATH_SEGMENT_WIDTH, Area, AreaLevel
from linli.areas.services import segment
from linli.core.bulkload import insert_rows
from linli.core.errors import both_languages
from linli.registry.importing.addresses import CompoundResolver
from linli.registry.importing.records import AddressParts
from linli.registry.services.people import Address

UNASSIGNED_GRID = "待分配网格"

DwellingKey = tuple[str, str, str, str]  # compound, building, unit, room


@dataclass(frozen=True)
class Placement:
    dwelling: Area | None
    compound: str  # canonical name, "" when unknown


def _segment_number(path: str) -> int:
    return int(path[-(PATH_SEGMENT_WIDTH + 1) : -1])


IMPORT_TARGET = gettext_lazy("Import into a community or a grid.")


class DwellingIndex:
    """The compounds, buildings, units and dwellings below one community or grid."""

    def __init__(self, target: Area) -> None:
        if target.level not in (AreaLevel.COMMUNITY, AreaLevel.GRID):
            raise ValueError(both_languages(IMPORT_TARGET))
        self.target = target
        areas = list(Area.objects.filter(path__startswith=target.path).order_by("path"))
        self.by_id = {a.pk: a for a in areas}
        self.children: dict[int, dict[str, Area]] = defaultdict(dict)
        self.last_segment: dict[int | None, int] = defaultdict(int)
        for area in areas:
            if area.parent_id is not None:
                self.children[area.parent_id][area.name] = area
            self.last_segment[area.parent_id] = max(
                self.last_segment[area.parent_id], _segment_number(area.path)
            )
        compounds = [a for a in areas if a.level == AreaLevel.COMPOUND]
        self.compounds = {a.name: a for a in compounds}
        self.resolver = CompoundResolver({a.name: list(a.aliases or []) for a in compounds})

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
        if not written:
            return ""
        return self.resolver.resolve(written) or written

    def existing_dwelling(self, parts: AddressParts) -> Area | None:
        """Returns the dwelling if the tree already has it (no creation)."""
        compound = self.compounds.get(self.canonical_compound(parts.compound))
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
        """
        keys: list[DwellingKey | None] = []
        for parts in addresses:
            compound = self.canonical_compound(parts.compound)
            if not compound and len(self.compounds) == 1:
                compound = next(iter(self.compounds))
            if not compound or not parts.is_dwelling:
                keys.append(None)
            else:
                keys.append((compound, parts.building, parts.unit, parts.room))
        floors = {
            key: parts.floor for key, parts in zip(keys, addresses, strict=True) if key is not None
        }
        wanted = sorted({k for k in keys if k is not None})
        self._create_missing_compounds({k[0] for k in wanted})
        buildings = self._ensure_level(
            {(self.compounds[c].pk, b) for c, b, _, _ in wanted}, AreaLevel.BUILDING
        )
        units = self._ensure_level(
            {(buildings[(self.compounds[c].pk, b)].pk, u) for c, b, u, _ in wanted if u},
            AreaLevel.UNIT,
        )
        rooms: dict[DwellingKey, tuple[int, str]] = {}
        for key in wanted:
            compound, building, unit, room = key
            parent = buildings[(self.compounds[compound].pk, building)]
            if unit:
                parent = units[(parent.pk, unit)]
            rooms[key] = (parent.pk, room)
        dwellings = self._ensure_level(
            set(rooms.values()),
            AreaLevel.DWELLING,
            floors={rooms[k]: floors[k] for k in wanted},
        )
        return [dwellings[rooms[k]] if k is not None else None for k in keys]

    def _create_missing_compounds(self, names: set[str]) -> None:
        missing = sorted(n for n in names if n not in self.compounds)
        if not missing:
            return
        parent = self.target if self.target.level == AreaLevel.GRID else self._unassigned_grid()
        created = self._ensure_level({(parent.pk, n) for n in missing}, AreaLevel.COMPOUND)
        for (_, name), area in created.items():
            self.compounds[name] = area

    def _unassigned_grid(self) -> Area:
        grid = self.children[self.target.pk].get(UNASSIGNED_GRID)
        if grid is None:
            grid = self._ensure_level({(self.target.pk, UNASSIGNED_GRID)}, AreaLevel.GRID)[
                (self.target.pk, UNASSIGNED_GRID)
            ]
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
        return found
