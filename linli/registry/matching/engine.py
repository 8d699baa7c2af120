"""Entity resolution: which imported rows and existing persons are one person.

`link()` answers in three steps, pure Python and SQL on DuckDB or Spark (no Django models,
no writes; see backends.py for what runs where):

1. **ID numbers.** Rows carrying the same keyed hash of a valid ID number are one person
   (union-find). Two different valid ID numbers are two different people, always: no later
   step may join them, however alike the rest looks.
2. **Probabilistic matching** (Splink on DuckDB, or on Spark for a city) for what the ID
   numbers cannot decide: pairs where at least one side has no ID number (the candidate pairs
   are only those). Each ID cluster enters Splink as one record of its commonest values plus
   one per other name, phone or dwelling its rows gave, so 50,000 rows shrink to under 30,000
   Splink records and term frequencies count people, not rows. Comparisons are Chinese-aware:
   the same characters, the same toneless pinyin (同音字 typos), one character off; birth date;
   sex; region; phone and dwelling as household-level evidence with term-frequency adjustment
   (a family shares one phone and one dwelling). Training: m of names from the pairs the ID
   numbers linked, u counted from value frequencies (a sample of pairs for the fuzzy levels), m
   of phone and dwelling by EM on the new rows (fixed values when EM has too little to learn
   from or lands somewhere implausible, and for inputs under 1,000 records).
3. **Constrained clustering.** Pairs above `auto_merge` join clusters greedily from the most
   certain down, unless the join would put two ID numbers or two existing persons in one
   cluster; pairs between `review` and `auto_merge`, and pairs the guards below refuse, go to
   the review queue.

Precision comes first (a false merge mixes two people's health data), so a probability alone
never merges a pair whose names neither match nor sound alike, whose known birth dates are in
different years, whose known sexes differ, whose record has a second candidate almost as good
who is provably somebody else (a father and son with one name at one dwelling), or whom one
department's file lists twice at one dwelling. Splink's model assumes its comparisons
are independent; household members break that assumption (same phone, same dwelling, twins with
the same birthday), and these guards are where the code says so.

Keys: "p…" records are existing persons (one record each, already deduplicated: two of them
are never merged automatically, only put in review) and keep their key as cluster id; "r…" are
new rows, and a new cluster takes its smallest r-key as id.
"""

from __future__ import annotations

import logging
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .backends import Backend, open_backend
from .records import LinkResult, MatchRecord, ReviewPair

ProgressCallback = Callable[[str, float], None]  # (stage, fraction of the whole run done)


@dataclass(frozen=True)
class MatchSettings:
    """How link() decides; the defaults were tuned on bench/registry_data.py files."""

    # Match probability at or above which a pair merges without a person looking at it. With
    # the guards of _vetoed() and _cluster(), 0.95–0.995 all kept pairwise precision at or
    # above 0.9999 on generated files of 50,000 rows; 0.99 left more true pairs in review
    # (recall 0.992 against 0.994), 0.95 gained little more: 0.98 keeps a margin.
    auto_merge: float = 0.98
    # Match probability from which a pair is worth a data steward's look.
    review: float = 0.5
    # A record whose best candidate is within this many match-weight bits (log2 Bayes
    # factor) of a candidate that is provably someone else is ambiguous: nothing merges.
    ambiguity_margin: float = 5.0
    # Below this many Splink records, u is not estimated either: the fixed values in _LEVELS.
    min_records_to_train: int = 1000
    # EM learns how the new rows' phones and dwellings agree only from this many new rows
    # without an ID number up; fewer give it too few pairs to be stable.
    min_rows_for_em: int = 1000
    # Compare existing persons among themselves, to put look-alikes in review.
    compare_existing: bool = True
    threads: int = 2
    seed: int = 2026
    # Where the SQL of step 2 runs (backends.ENGINES): "duckdb" in this process, "spark" on
    # a Spark master (a city's registry; docs/scale-out.md). The same model either way.
    engine: str = "duckdb"
    # The master a Spark session is started with when the process has none running: "local[2]"
    # (this machine's cores) or a cluster's URL; "" leaves it to Spark's own configuration.
    spark_master: str = ""
    # Records sampled (pairs among them) for the u of the levels no value frequency gives:
    # a name one character off and the dwelling's partial levels (see _u_from_population). 500
    # records give 125,000 pairs: some 1,500 in the same building and 80 one character off,
    # enough since a name one character off never merges by itself (_vetoed) and only moves
    # a pair's probability in the review queue; 1,000 records cost 0.1 s more per file.
    u_sample_records: int = 500


# ---- comparisons ----------------------------------------------------------------------------
# Each level: (label, SQL condition, m, u, term-frequency column or None). The first level of
# every comparison is the null level (no evidence either way), the last is ELSE.
#
# m = how often two records of one person agree at that level, u = how often two records of
# different people do (random pairs in a community of ~15,000 people). The numbers here are
# the fixed parameters of small inputs and what training falls back to; they are rounded
# from models trained on 50,000 generated department rows (bench/registry_data.py), with
# the m of disagreement levels raised a little: real files have error kinds the generator
# does not (形近字 typos, a dwelling written wrong), and a too-small m there makes disagreement
# look like proof.
_LEVELS: dict[str, list[tuple[str, str, float, float, str | None]]] = {
    "name": [
        ("missing", "name_l IS NULL OR name_r IS NULL", 0, 0, None),
        ("exact", "name_l = name_r", 0.93, 0.0006, "name"),
        # Homophone typos: 张伟/张玮 are one sound typed two ways.
        ("same_pinyin", "name_pinyin_l = name_pinyin_r", 0.05, 0.0002, "name_pinyin"),
        (
            "one_character_differs",
            "length(name_l) >= 3 AND length(name_l) = length(name_r)"
            " AND levenshtein(name_l, name_r) = 1",
            0.01,
            0.003,
            None,
        ),
        ("different", "ELSE", 0.01, 0.9962, None),
    ],
    "birth_date": [
        ("missing", "birth_date_l IS NULL OR birth_date_r IS NULL", 0, 0, None),
        ("exact", "birth_date_l = birth_date_r", 0.985, 0.0001, None),
        ("same_year", "left(birth_date_l, 4) = left(birth_date_r, 4)", 0.01, 0.012, None),
        ("different", "ELSE", 0.005, 0.988, None),
    ],
    "sex": [
        ("missing", "sex_l IS NULL OR sex_r IS NULL", 0, 0, None),
        ("exact", "sex_l = sex_r", 0.995, 0.5, None),
        ("different", "ELSE", 0.005, 0.5, None),
    ],
    "region_code": [
        ("missing", "region_code_l IS NULL OR region_code_r IS NULL", 0, 0, None),
        ("exact", "region_code_l = region_code_r", 0.99, 0.35, None),
        ("different", "ELSE", 0.01, 0.65, None),
    ],
    # A phone is household-level evidence: term frequencies make a number shared by a family
    # of four worth less than one only its owner gives.
    "phone": [
        ("missing", "phone_hash_l IS NULL OR phone_hash_r IS NULL", 0, 0, None),
        ("exact", "phone_hash_l = phone_hash_r", 0.8, 0.0001, "phone_hash"),
        ("different", "ELSE", 0.2, 0.9999, None),
    ],
    "dwelling": [
        # Nothing comparable: no dwelling on one side, or a dwelling known only as a dwelling of the
        # area tree (existing persons) against one written without its compound.
        (
            "missing",
            "NOT ((dwelling_key_l IS NOT NULL AND dwelling_key_r IS NOT NULL)"
            " OR (room_key_l IS NOT NULL AND room_key_r IS NOT NULL)"
            " OR (building_key_l IS NOT NULL AND building_key_r IS NOT NULL))",
            0,
            0,
            None,
        ),
        ("exact", "dwelling_key_l = dwelling_key_r", 0.85, 0.0002, "dwelling_key"),
        # "三栋二单元501" without the compound: the same dwelling number in some compound.
        (
            "same_room_compound_unknown",
            "room_key_l = room_key_r AND (compound_l IS NULL OR compound_r IS NULL)",
            0.06,
            0.0006,
            None,
        ),
        ("same_building", "building_key_l = building_key_r", 0.02, 0.01, None),
        # Owners who let their dwelling and live in another, people registered at one dwelling and
        # living at another: about one no-ID row in ten names a different dwelling.
        ("different", "ELSE", 0.1, 0.9892, None),
    ],
}
COMPARISONS = tuple(_LEVELS)
# Labels by Splink's gamma value: the ELSE level is 0, the null level -1.
_LABEL_BY_GAMMA = {
    name: {len(levels) - 1 - i: levels[i][0] for i in range(1, len(levels))} | {-1: "missing"}
    for name, levels in _LEVELS.items()
}
# The registry serves a community: small inputs assume one and a half matches per record among
# a community's worth of people (counting cannot estimate it in a few hundred rows), and term
# frequencies never count fewer people than that (see _term_frequency_tables).
FIXED_MATCHES_PER_RECORD = 1.5
FIXED_COMMUNITY_RECORDS = 15_000

# Candidate pairs: every rule also requires that at least one side has no ID number, because
# two IDs decide by themselves (equal: same person, linked already; different: two people).
_ELIGIBLE = "(l.id_hash IS NULL OR r.id_hash IS NULL) AND l.comp <> r.comp"
_BLOCKING_RULES = (
    "l.phone_hash = r.phone_hash",
    "l.name_pinyin = r.name_pinyin",
    "l.dwelling_key = r.dwelling_key AND l.surname_py = r.surname_py",
    "l.dwelling_key = r.dwelling_key AND l.given_py = r.given_py",
    "l.room_key = r.room_key AND l.surname_py = r.surname_py",
    "l.birth_date = r.birth_date AND l.surname_py = r.surname_py",
)
# EM learns the m of phone and dwelling from pairs with the same sound of name where one side is a
# new row without ID number: the rows this run has to decide. (Blocked on phone instead, EM
# learnt the household, not the person: a family shares phone and dwelling.)
_TRAINING_RULE = "l.name_pinyin = r.name_pinyin AND l.comp <> r.comp AND (l.fresh OR r.fresh)"
_M_FROM_EM = ("phone", "dwelling")
# EM's m for the exact level outside this range means it converged on something other than
# the person (or on too few pairs): the fixed values are better.
_PLAUSIBLE_EXACT_M = (0.5, 0.97)


# ---- the public function --------------------------------------------------------------------
def link(
    records: Sequence[MatchRecord],
    *,
    settings: MatchSettings | None = None,
    progress: ProgressCallback | None = None,
) -> LinkResult:
    """Returns every record's cluster, the pairs for review and counts of what merged.

    Existing persons ("p…" keys) keep their key as cluster id and are never merged with each
    other; a cluster of new rows only takes its smallest "r…" key. Deterministic for the same
    input. Raises ValueError when two records share a key.
    """
    settings = settings or MatchSettings()
    report = progress or (lambda stage, fraction: None)
    keys = [record.key for record in records]
    if len(set(keys)) != len(keys):
        raise ValueError("MatchRecord keys must be unique")
    report("id_numbers", 0.0)
    graph = _Graph(records)
    review: dict[tuple[int, int], ReviewPair] = {}
    for left, right in graph.id_conflicts:
        review[(left, right)] = ReviewPair(
            left=graph.comp_key[left],
            right=graph.comp_key[right],
            probability=1.0,
            reasons={"id_number": "same"},
        )

    table = _SplinkInput(graph)
    edges: list[_Edge] = []
    if table.worth_scoring(settings):
        report("scoring", 0.1)
        edges = _score(table, settings, report)
    report("clustering", 0.9)
    auto_merged = _cluster(graph, table, edges, settings, review)
    clusters = graph.cluster_ids()
    # One pair per two clusters (a data steward decides person against person), none inside
    # a cluster that merged after all.
    best: dict[tuple[str, str], ReviewPair] = {}
    for pair in review.values():
        if clusters[pair.left] == clusters[pair.right]:
            continue
        a, b = sorted((clusters[pair.left], clusters[pair.right]))
        if (a, b) not in best or pair.probability > best[(a, b)].probability:
            best[(a, b)] = pair
    report("done", 1.0)
    return LinkResult(
        clusters=clusters,
        review=sorted(best.values(), key=lambda p: (-p.probability, p.left, p.right)),
        auto_merged_pairs=auto_merged,
        id_linked_pairs=graph.id_linked_pairs,
    )


# ---- step 1: ID numbers ------------------------------------------------------------------
def _is_existing(key: str) -> bool:
    return key.startswith("p")


def _key_order(key: str) -> tuple[int, int, str]:
    """Sorts "p…" before "r…" and numbers numerically (r9 before r10)."""
    digits = key[1:]
    return (0 if _is_existing(key) else 1, int(digits) if digits.isdigit() else -1, key)


class _Graph:
    """Records grouped into components: one per ID number (at most one existing person in
    each), one per record without an ID. Probabilistic merges then join components."""

    def __init__(self, records: Sequence[MatchRecord]) -> None:
        self.records = records
        # Members of every component are kept in key order, so a component's first member
        # is its cluster id (the existing person, else the smallest r-key).
        order = sorted(range(len(records)), key=lambda i: _key_order(records[i].key))
        self.rank = [0] * len(records)
        for position, i in enumerate(order):
            self.rank[i] = position
        self.comp_of: list[int] = [0] * len(records)
        self.comp_members: list[list[int]] = []
        self.comp_id_hash: list[str] = []
        self.comp_existing: list[str] = []  # the "p…" key in the component, or ""
        self.comp_key: list[str] = []  # the cluster id: the first member's key
        self.id_conflicts: list[tuple[int, int]] = []  # existing persons sharing an ID number
        self.id_linked_pairs = 0
        by_id: dict[str, list[int]] = {}
        for i in order:
            id_hash = records[i].id_hash
            if id_hash:
                by_id.setdefault(id_hash, []).append(i)
            else:
                self._new_component([i], "")
        for id_hash, members in by_id.items():
            # Members are in key order: the existing persons ("p…") come first.
            split = next(
                (n for n, i in enumerate(members) if not records[i].key.startswith("p")),
                len(members),
            )
            existing, rows = members[:split], members[split:]
            anchor = self._new_component(existing[:1] + rows, id_hash)
            self.id_linked_pairs += len(existing[:1]) + len(rows) - 1
            # Two existing persons with one ID number: the registry was wrong once already;
            # a person decides which is right.
            for extra in existing[1:]:
                self.id_conflicts.append((anchor, self._new_component([extra], id_hash)))
        self._parent = list(range(len(self.comp_members)))
        # (source, dwelling) of the component's records: where each file lists it.
        self.listings: list[set[tuple[str, str]] | None] = [None] * len(self.comp_members)

    def note_listing(self, comp: int, source: str, dwelling: str) -> None:
        """Remembers that the file of `source` lists this component at `dwelling`."""
        listing = self.listings[comp]
        if listing is None:
            listing = self.listings[comp] = set()
        listing.add((source, dwelling))

    def _new_component(self, members: list[int], id_hash: str) -> int:
        comp = len(self.comp_members)
        first = self.records[members[0]].key
        self.comp_members.append(members)
        self.comp_id_hash.append(id_hash)
        self.comp_existing.append(first if _is_existing(first) else "")
        self.comp_key.append(first)
        for i in members:
            self.comp_of[i] = comp
        return comp

    # Union-find over components; the root carries the cluster's ID number and person.
    def find(self, comp: int) -> int:
        root = comp
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[comp] != root:
            self._parent[comp], comp = root, self._parent[comp]
        return root

    def compatible(self, a: int, b: int) -> bool:
        """Returns whether two roots may be one person: at most one ID number and one
        existing person between them, and no file listing both at one dwelling.

        A department's file lists a resident once per dwelling (a lab's repeated tests carry
        no dwelling): two rows of one file at one dwelling are two people, the father and the
        son of one name sharing the household's phone, however alike the rest looks. (A row entered
        twice by mistake then waits for review, unless an ID number links it.)
        """
        id_a, id_b = self.comp_id_hash[a], self.comp_id_hash[b]
        if id_a and id_b and id_a != id_b:
            return False
        if self.comp_existing[a] and self.comp_existing[b]:
            return False
        listing_a, listing_b = self.listings[a], self.listings[b]
        return not (listing_a and listing_b and not listing_a.isdisjoint(listing_b))

    def union(self, a: int, b: int) -> bool:
        a, b = self.find(a), self.find(b)
        if a == b or not self.compatible(a, b):
            return False
        if self.rank[self.comp_members[b][0]] < self.rank[self.comp_members[a][0]]:
            a, b = b, a
        self._parent[b] = a
        self.comp_id_hash[a] = self.comp_id_hash[a] or self.comp_id_hash[b]
        self.comp_existing[a] = self.comp_existing[a] or self.comp_existing[b]
        listing_a, listing_b = self.listings[a], self.listings[b]
        if listing_b:
            if listing_a is None:
                self.listings[a] = set(listing_b)
            else:
                listing_a |= listing_b
        return True

    def cluster_ids(self) -> dict[str, str]:
        """Returns record key → cluster id: the existing person's key, else the smallest."""
        return {
            record.key: self.comp_key[self.find(self.comp_of[i])]
            for i, record in enumerate(self.records)
        }


# ---- step 2: Splink -----------------------------------------------------------------------
_DIGITS = re.compile(r"\d+")


@lru_cache(maxsize=4096)
def _address_part(text: str) -> str:
    """Returns the number of "3号楼"/"3栋"/"501室" (the importer names them canonically;
    this only keeps two spellings of one number equal), else the stripped text."""
    text = text.strip()
    match = _DIGITS.search(text)
    return str(int(match.group())) if match else text


_Name = tuple[str, str | None, str | None, str | None]  # name, pinyin, surname, given name
_DwellingAddress = tuple[
    str | None, str, str | None, str | None
]  # compound, dwelling, room, building
# What a record says, normalised the way Splink compares it (a tuple: 50,000 of them are
# built per run): name, birth date, sex, region, phone, dwelling, room key (a dwelling
# number without its compound, "三栋二单元501"), building key.
_Features = tuple[
    _Name | None,
    str | None,
    str | None,
    str | None,
    str | None,
    _DwellingAddress | None,
    str | None,
    str | None,
]
_F_NAME, _F_BIRTH, _F_SEX, _F_REGION, _F_PHONE, _F_DWELLING, _F_ROOM, _F_BUILDING = range(8)


def _features(record: MatchRecord) -> _Features:
    name = record.name.strip()
    pinyin = " ".join(record.name_pinyin.lower().split())
    surname, _, given = pinyin.partition(" ")
    compound = record.compound.strip() or None
    building = _address_part(record.building)
    unit = _address_part(record.unit)
    room = _address_part(record.room)
    # The dwelling on the area tree when the importer resolved it (existing persons carry
    # nothing else), else the dwelling as written.
    if record.dwelling_id is not None:
        dwelling: str | None = f"#{record.dwelling_id}"
    elif compound and building and room:
        dwelling = f"{compound}|{building}|{unit}|{room}"
    else:
        dwelling = None
    room_key = f"{building}|{unit}|{room}" if building and room else None
    building_key = f"{compound}|{building}" if compound and building else None
    return (
        (name, pinyin or None, surname or None, given or None) if name else None,
        record.birth_date.strip() or None,
        record.sex.strip() or None,
        record.region_code.strip() or None,
        record.phone_hash or None,
        (compound, dwelling, room_key, building_key) if dwelling else None,
        room_key,
        building_key,
    )


def _commonest(counts: dict[Any, int]) -> Any:
    """Returns the most frequent key (the first seen on a tie), or None when empty."""
    if len(counts) < 2:
        return next(iter(counts), None)
    return max(counts, key=counts.__getitem__)


class _SplinkInput:
    """The records Splink sees.

    A record without ID number is one Splink row. A component with an ID number becomes one
    row of its commonest name, phone and dwelling, plus a row for every other name, phone or
    dwelling its records gave (a homophone typo, an old phone, the dwelling an owner lets):
    every variant can still be found, and 50,000 rows of ~20,000 people shrink to under 30,000.
    """

    # existing: the component holds an existing person; fresh: a new row without ID number,
    # what this run has to decide.
    COLUMNS = (
        "unique_id", "comp", "existing", "fresh", "id_hash",
        "name", "name_pinyin", "surname_py", "given_py", "birth_date", "sex", "region_code",
        "phone_hash", "compound", "dwelling_key", "room_key", "building_key",
    )  # fmt: skip

    def __init__(self, graph: _Graph) -> None:
        # One tuple per row in COLUMNS order, turned into columns once at the end: a tuple
        # and one append per row cost a third of seventeen appends to seventeen lists.
        self._rows: list[tuple[Any, ...]] = []
        self.row_key: list[str] = []  # the record key each Splink row stands for
        self.row_comp: list[int] = []
        # (comp, name, pinyin, rows) of components with an ID number: the matches the ID
        # numbers found, from which _m_from_id_numbers learns how names vary.
        self.id_names: list[tuple[int, str, str | None, int]] = []
        self.fresh = 0
        records = graph.records
        for comp, members in enumerate(graph.comp_members):
            id_hash = graph.comp_id_hash[comp] or None
            existing = bool(graph.comp_existing[comp])
            if id_hash is None:
                # A record without ID number: alone in its component.
                record = records[members[0]]
                f = _features(record)
                if record.source and f[_F_DWELLING]:
                    graph.note_listing(comp, record.source, f[_F_DWELLING][1])
                fresh = not existing
                self.fresh += fresh
                self._add(
                    comp,
                    existing,
                    fresh,
                    None,
                    record.key,
                    f,
                    f[_F_NAME],
                    f[_F_PHONE],
                    f[_F_DWELLING],
                )
                continue
            keyed = [(records[i].key, _features(records[i])) for i in members]
            for i, (_, f) in zip(members, keyed, strict=True):
                if records[i].source and f[_F_DWELLING]:
                    graph.note_listing(comp, records[i].source, f[_F_DWELLING][1])
            self._add_person(comp, existing, id_hash, keyed)
        self.rows = len(self.row_key)
        transposed = list(zip(*self._rows, strict=True)) or [()] * len(self.COLUMNS)
        self.columns: dict[str, tuple[Any, ...]] = dict(zip(self.COLUMNS, transposed, strict=True))
        del self._rows
        self.without_id = self.columns["id_hash"].count(None)
        self.new_rows = self.columns["existing"].count(False)

    def _add_person(
        self, comp: int, existing: bool, id_hash: str, keyed: list[tuple[str, _Features]]
    ) -> None:
        """Adds the rows of one component with an ID number (records in key order)."""
        if len(keyed) == 1:
            key, f = keyed[0]
            if f[_F_NAME] is not None:
                self.id_names.append((comp, f[_F_NAME][0], f[_F_NAME][1], 1))
            self._add(
                comp, existing, False, id_hash, key, f, f[_F_NAME], f[_F_PHONE], f[_F_DWELLING]
            )
            return
        tallies: list[dict[Any, int]] = [{} for _ in range(8)]
        addresses: dict[
            str, _DwellingAddress
        ] = {}  # dwelling → its most completely written address
        for _, f in keyed:
            for field, value in enumerate(f):
                if value is not None:
                    tally = tallies[field]
                    tally[value] = tally.get(value, 0) + 1
            address = f[_F_DWELLING]
            if address is not None:
                known = addresses.get(address[1])
                if known is None or sum(v is not None for v in address) > sum(
                    v is not None for v in known
                ):
                    addresses[address[1]] = address
        self.id_names.extend(
            (comp, name[0], name[1], count) for name, count in tallies[_F_NAME].items()
        )
        dwellings: dict[str, int] = {}
        for address, count in tallies[_F_DWELLING].items():
            dwellings[address[1]] = dwellings.get(address[1], 0) + count
        name = _commonest(tallies[_F_NAME])
        phone = _commonest(tallies[_F_PHONE])
        dwelling = _commonest(dwellings)
        address = addresses[dwelling] if dwelling is not None else None
        person: _Features = (
            name,
            _commonest(tallies[_F_BIRTH]),
            _commonest(tallies[_F_SEX]),
            _commonest(tallies[_F_REGION]),
            phone,
            address,
            # Used only without a dwelling: a partial address is better than none.
            _commonest(tallies[_F_ROOM]),
            _commonest(tallies[_F_BUILDING]),
        )
        self._add(comp, existing, False, id_hash, keyed[0][0], person, name, phone, address)
        seen_names, seen_phones, seen_dwellings = {name, None}, {phone, None}, {dwelling, None}
        for key, f in keyed:
            if f[_F_NAME] not in seen_names:
                seen_names.add(f[_F_NAME])
                self._add(comp, existing, False, id_hash, key, person, f[_F_NAME], phone, address)
            if f[_F_PHONE] not in seen_phones:
                seen_phones.add(f[_F_PHONE])
                self._add(comp, existing, False, id_hash, key, person, name, f[_F_PHONE], address)
            other = f[_F_DWELLING][1] if f[_F_DWELLING] else None
            if other not in seen_dwellings:
                seen_dwellings.add(other)
                self._add(
                    comp, existing, False, id_hash, key, person, name, phone, addresses[other]
                )

    def _add(
        self,
        comp: int,
        existing: bool,
        fresh: bool,
        id_hash: str | None,
        key: str,
        person: _Features,
        name: _Name | None,
        phone: str | None,
        address: _DwellingAddress | None,
    ) -> None:
        name = name or (None, None, None, None)
        address = address or (None, None, person[_F_ROOM], person[_F_BUILDING])
        row = (
            len(self.row_key), comp, existing, fresh, id_hash,
            name[0], name[1], name[2], name[3],
            person[_F_BIRTH], person[_F_SEX], person[_F_REGION],
            phone, address[0], address[1], address[2], address[3],
        )  # fmt: skip
        self._rows.append(row)
        self.row_key.append(key)
        self.row_comp.append(comp)

    def worth_scoring(self, settings: MatchSettings) -> bool:
        """Returns whether any pair is left for probability to decide: one side without ID
        number, and (unless existing persons are compared among themselves) one side new."""
        if self.rows < 2 or self.without_id == 0:
            return False
        return settings.compare_existing or self.new_rows > 0

    def arrow(self) -> Any:
        """Returns the rows as a pyarrow Table (Splink 5 and DuckDB read it without pandas)."""
        import pyarrow as pa

        types = {
            "unique_id": pa.int64(),
            "comp": pa.int64(),
            "existing": pa.bool_(),
            "fresh": pa.bool_(),
        }
        return pa.table(
            {
                column: pa.array(values, type=types.get(column, pa.string()))
                for column, values in self.columns.items()
            }
        )

    def id_names_arrow(self) -> Any:
        """Returns id_names as a pyarrow Table (i: the row's number, comp, name, name_pinyin,
        copies)."""
        import pyarrow as pa

        columns = list(zip(*self.id_names, strict=True)) or [(), (), (), ()]
        comps, names, pinyins, counts = columns
        return pa.table(
            {
                "i": pa.array(range(len(comps)), type=pa.int64()),
                "comp": pa.array(comps, type=pa.int64()),
                "name": pa.array(names, type=pa.string()),
                "name_pinyin": pa.array(pinyins, type=pa.string()),
                "copies": pa.array(counts, type=pa.int64()),
            }
        )


@dataclass(frozen=True)
class _Edge:
    left: int  # Splink row
    right: int
    weight: float  # log2 Bayes factor including the prior
    probability: float
    gammas: tuple[int, ...]  # Splink's level per comparison, in COMPARISONS order
    vetoed: bool  # see _vetoed()

    @property
    def levels(self) -> dict[str, str]:
        """Returns comparison → level label (the review queue's reasons)."""
        return {
            name: _LABEL_BY_GAMMA[name].get(gamma, "missing")
            for name, gamma in zip(COMPARISONS, self.gammas, strict=True)
        }


def _model(
    settings: MatchSettings,
    *,
    prior: float,
    m: dict[str, list[float]],
    u: dict[str, list[float | None]],
    term_frequencies: bool,
) -> dict[str, Any]:
    """Returns the Splink settings dict: comparisons with m from `m` and u from `u` (by
    comparison, one per non-null level, None for "keep the fixed value") or the fixed values,
    the blocking rules and the prior.

    Small inputs go without term frequencies: counted in a handful of records, every value
    looks common.
    """
    comparisons = []
    for name, levels in _LEVELS.items():
        specs = []
        for i, (label, condition, m_fixed, u_fixed, tf_column) in enumerate(levels):
            spec: dict[str, Any] = {"sql_condition": condition, "label_for_charts": label}
            if i == 0:
                spec["is_null_level"] = True
            else:
                spec["m_probability"] = m[name][i - 1] if name in m else m_fixed
                learnt = u[name][i - 1] if name in u else None
                spec["u_probability"] = u_fixed if learnt is None else learnt
                spec["fix_m_probability"] = name not in _M_FROM_EM
            if tf_column and term_frequencies:
                spec["tf_adjustment_column"] = tf_column
                spec["tf_adjustment_weight"] = 1.0
            specs.append(spec)
        comparisons.append({"output_column_name": name, "comparison_levels": specs})
    eligible = _ELIGIBLE
    if not settings.compare_existing:
        eligible += " AND NOT (l.existing AND r.existing)"
    return {
        "link_type": "dedupe_only",
        "comparisons": comparisons,
        "blocking_rules_to_generate_predictions": [
            f"{rule} AND {eligible}" for rule in _BLOCKING_RULES
        ],
        "probability_two_random_records_match": prior,
        # Splink keeps the gamma columns (each pair's levels, which the guards and the review
        # reasons read) only together with the matching columns.
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": False,
        "max_iterations": 20,
        "em_convergence": 0.001,
    }


@contextmanager
def _quiet_splink() -> Iterator[None]:
    """Splink narrates every step at INFO and warns about training details this module
    handles itself (a level EM saw no pairs of, the fallbacks in _train): an import's log
    wants none of it."""
    splink_logger = logging.getLogger("splink")
    level = splink_logger.level
    splink_logger.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        splink_logger.setLevel(level)


# The SQL of this module is built from its own constants and column names, never from record
# values (those reach the database as Arrow data): hence the S608 exemptions.
def _score(table: _SplinkInput, settings: MatchSettings, report: ProgressCallback) -> list[_Edge]:
    """Returns the scored candidate pairs at or above the review threshold."""
    from splink import Linker

    with open_backend(
        settings.engine, threads=settings.threads, spark_master=settings.spark_master
    ) as db:
        db.load("linli_records", table.arrow())
        db.load("linli_id_names", table.id_names_arrow())
        db_api = db.splink_api
        records = db_api.register("linli_records")
        train = table.rows >= settings.min_records_to_train
        model = _model(
            settings,
            prior=_prior(db, table, estimate=train),
            m=_m_from_id_numbers(db) if train else {},
            u=_u_from_population(db, settings, table.rows) if train else {},
            term_frequencies=train,
        )
        with _quiet_splink():
            # Splink's validation parses every level's SQL with sqlglot again, a fifth of a
            # second per linker for settings this module builds from constants (the tests
            # build the same model with validation on).
            linker = Linker(records, model, log_level=None, validate_settings=False)
            if train:
                tf_tables = _term_frequency_tables(db)
                _register_term_frequencies(db_api, linker, tf_tables)
                report("training", 0.2)
                retrained = _train(linker, table, settings, report)
                if retrained is not None:
                    linker = Linker(records, retrained, log_level=None, validate_settings=False)
                    _register_term_frequencies(db_api, linker, tf_tables)
            report("predicting", 0.6)
            predictions = linker.inference.predict(
                threshold_match_probability=settings.review, warning_mode="never"
            )
        gammas = ", ".join(f"gamma_{name}" for name in COMPARISONS)
        rows = db.rows(
            f"SELECT unique_id_l, unique_id_r, match_weight, match_probability, {gammas} "  # noqa: S608
            f"FROM {predictions.physical_name}"
        )
    # In pair order, rounded: the clustering then sees the same edges in the same order
    # whatever engine (and however many threads) computed them; the last bits of a logarithm
    # differ between DuckDB and Spark and must not reorder two pairs of one weight.
    rows.sort(key=lambda row: (row[0], row[1]))
    return [
        _Edge(
            left=int(row[0]),
            right=int(row[1]),
            weight=round(float(row[2]), _DIGITS_KEPT),
            probability=round(float(row[3]), _DIGITS_KEPT),
            gammas=tuple(int(gamma) for gamma in row[4:]),
            vetoed=_vetoed(row[4:]),
        )
        for row in rows
    ]


_DIGITS_KEPT = 9


def _prior(db: Backend, table: _SplinkInput, *, estimate: bool) -> float:
    """Returns the probability that the two records of a candidate-eligible pair are one
    person (Splink's probability_two_random_records_match).

    On large inputs, counted: pairs with one side without ID that agree on the sound of the
    name and on phone or dwelling (taken to find 80% of the matches), over all such pairs. Small
    inputs take one and a half matches per record in a community-sized registry.
    """
    n = table.rows
    without = table.without_id
    eligible = without * (n - without) + without * (without - 1) / 2
    if not estimate or eligible <= 0:
        return FIXED_MATCHES_PER_RECORD / FIXED_COMMUNITY_RECORDS
    found = db.rows(
        f"""
        SELECT count(*) FROM linli_records l JOIN linli_records r
          ON l.name_pinyin = r.name_pinyin AND l.unique_id < r.unique_id
        WHERE {_ELIGIBLE}
          AND (l.phone_hash = r.phone_hash OR l.dwelling_key = r.dwelling_key
               OR l.room_key = r.room_key)
        """  # noqa: S608
    )[0][0]
    # Scaled like the term frequencies (see _term_frequency_tables).
    scale = min(1.0, n / FIXED_COMMUNITY_RECORDS)
    return min(0.5, max(found / 0.8, 1.0) / eligible * scale)


def _term_frequency_tables(db: Backend) -> dict[str, str]:
    """Creates the term-frequency lookups; returns {column: table}.

    Frequencies count people (components), not rows: a person written three ways must not
    make their phone look like a family's. The denominator is at least a community's worth of
    people: in a file of 1,500 rows a name seen once is not one in 1,500 in the community,
    and counting as if it were makes every small file's evidence look weak.
    """
    columns = sorted({level[4] for levels in _LEVELS.values() for level in levels if level[4]})
    components = db.rows("SELECT count(DISTINCT comp) FROM linli_records")[0][0]
    population = int(max(components, FIXED_COMMUNITY_RECORDS))
    tables = {}
    for column in columns:
        tables[column] = f"linli_tf_{column}"
        db.create(
            f"linli_tf_{column}",
            f"""
            SELECT {column},
                   CAST(count(DISTINCT comp) AS DOUBLE) / CAST({population} AS DOUBLE)
                     AS tf_{column}
            FROM linli_records WHERE {column} IS NOT NULL GROUP BY {column}
            """,  # noqa: S608
        )
    return tables


def _register_term_frequencies(db_api: Any, linker: Any, tables: dict[str, str]) -> None:
    for column, table in tables.items():
        linker.table_management.register_term_frequency_lookup(db_api.register(table), column)


def _train(
    linker: Any, table: _SplinkInput, settings: MatchSettings, report: ProgressCallback
) -> dict[str, Any] | None:
    """Trains `linker` in place: m of phone and dwelling by EM (u is in the model already).

    Returns a corrected model when EM failed or its answer is implausible (the linker must be
    rebuilt from it), else None.
    """
    from splink.internals.exceptions import SplinkException

    if table.fresh < settings.min_rows_for_em:
        return None
    report("training", 0.4)
    untrained = linker.misc.save_model_to_json()
    untrained.pop("linker_uid", None)
    try:
        linker.training.estimate_parameters_using_expectation_maximisation(
            _TRAINING_RULE, estimate_without_term_frequencies=True
        )
    except SplinkException:
        # No pairs to learn from. A failed session leaves the linker without the comparisons
        # it blocked on, so the model is rebuilt with the fixed m.
        return untrained
    model = linker.misc.save_model_to_json()
    corrected = False
    low, high = _PLAUSIBLE_EXACT_M
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        if name not in _M_FROM_EM:
            continue
        levels = comparison["comparison_levels"][1:]
        exact_m = levels[0].get("m_probability")
        if not isinstance(exact_m, float) or not low <= exact_m <= high:
            for level, fixed in zip(levels, _LEVELS[name][1:], strict=True):
                level["m_probability"] = fixed[2]
            corrected = True
    if not corrected:
        return None
    model.pop("linker_uid", None)
    return model


# Comparisons whose first level is agreement on one column and whose second (if any) is
# agreement on a coarser key of it (the year, the sound of the name): comparison →
# (column, coarser key SQL or None). Their u follows exactly from the value frequencies.
_U_BY_FREQUENCY: dict[str, tuple[str, str | None]] = {
    "birth_date": ("birth_date", "left(birth_date, 4)"),
    "sex": ("sex", None),
    "region_code": ("region_code", None),
    "phone": ("phone_hash", None),
    "name": ("name", "name_pinyin"),
}
# Levels no frequency gives (an edit distance, the dwelling's partial keys): u from a sample.
_U_BY_SAMPLE = ("name", "dwelling")


def _u_from_population(
    db: Backend, settings: MatchSettings, rows: int
) -> dict[str, list[float | None]]:
    """Returns u per comparison (one per non-null level; None where nothing was observed, to
    keep the fixed value), the chance that two different people agree at that level.

    Splink's random sampling estimates the same thing from 500,000 pairs in about half a
    second per file, and the exact levels it finds a few dozen times only. Counted instead:
    for one column, two random people agree with probability Σ c·(c−1) / (N·(N−1)) over
    its values' counts c (people, not rows: each component's value once, like the term
    frequencies), and a coarser key (the year, the sound of the name) agreeing where the
    finer one does not is the difference of the two sums. A name one character off and the
    dwelling's partial levels follow from no frequency: those come from the pairs among a sample
    of the `rows` records (drawn with the settings' seed, so the same input gives the same
    sample on every engine), of two components.
    """
    u: dict[str, list[float | None]] = {}
    for name, (column, coarser) in _U_BY_FREQUENCY.items():
        people, fine, coarse = db.rows(
            f"""
            WITH people AS (SELECT DISTINCT comp, {column} AS fine, {coarser or column} AS coarse
                            FROM linli_records WHERE {column} IS NOT NULL)
            SELECT (SELECT count(*) FROM people),
                   (SELECT sum(c * (c - 1)) FROM (SELECT count(*) AS c FROM people GROUP BY fine)),
                   (SELECT sum(c * (c - 1)) FROM (SELECT count(*) AS c FROM people
                                                  WHERE coarse IS NOT NULL GROUP BY coarse))
            """  # noqa: S608
        )[0]
        if people < 2:
            continue
        pairs = people * (people - 1.0)
        agreeing = [float(fine or 0)]
        if coarser:
            agreeing.append(max(float(coarse or 0) - agreeing[0], 0.0))
        if name not in _U_BY_SAMPLE:
            agreeing.append(pairs - sum(agreeing))  # ELSE: the rest
        # A level no pair reached keeps its fixed u (Splink refuses a u of 0, and a level
        # never seen says nothing about how rare it is).
        u[name] = [count / pairs if count > 0 else None for count in agreeing]
    n_levels = {name: len(_LEVELS[name]) - 1 for name in _U_BY_SAMPLE}
    sample = sorted(
        random.Random(settings.seed).sample(range(rows), min(int(settings.u_sample_records), rows))
    )
    gammas = ", ".join(f"{_level_case(name)} AS {name}" for name in _U_BY_SAMPLE)
    columns = sorted({c for name in _U_BY_SAMPLE for c in _comparison_columns(name)} | {"comp"})
    both = ", ".join(f"l.{c} AS {c}_l, r.{c} AS {c}_r" for c in columns)
    histograms: dict[str, dict[int, int]] = {name: {} for name in _U_BY_SAMPLE}
    for name, gamma, count in db.rows(
        f"""
        WITH s AS (SELECT * FROM linli_records
                   WHERE unique_id IN ({", ".join(map(str, sample or [-1]))})),
        pairs AS (SELECT {both} FROM s l JOIN s r
                  ON l.unique_id < r.unique_id AND l.comp <> r.comp),
        gammas AS (SELECT {gammas} FROM pairs)
        """  # noqa: S608
        + " UNION ALL ".join(
            f"SELECT '{name}' AS comparison, {name} AS gamma, count(*) AS pairs "  # noqa: S608
            f"FROM gammas GROUP BY {name}"
            for name in _U_BY_SAMPLE
        )
    ):
        histograms[name][int(gamma)] = int(count)
    for name in _U_BY_SAMPLE:
        histogram = histograms[name]
        observed = sum(count for gamma, count in histogram.items() if gamma >= 0)
        # Splink numbers the levels from the ELSE level (0) up: non-null level i is n − 1 − i.
        top = n_levels[name] - 1
        sampled: list[float | None] = [
            histogram[top - i] / observed if histogram.get(top - i) else None
            for i in range(n_levels[name])
        ]
        if name in u:
            # The counted levels are exact; the sample adds the rest, and ELSE is what is
            # left (every level's u together is 1).
            counted = u[name]
            middle = sampled[len(counted) : -1]
            rest = 1.0 - sum(v or 0.0 for v in counted) - sum(v or 0.0 for v in middle)
            u[name] = [*counted, *middle, rest if rest > 0 else None]
        else:
            u[name] = sampled
    return u


def _comparison_columns(name: str) -> set[str]:
    """Returns the record columns a comparison's SQL conditions read."""
    found = set()
    for level in _LEVELS[name]:
        found.update(re.findall(r"\b(\w+)_[lr]\b", level[1]))
    return found & set(_SplinkInput.COLUMNS)


# Pseudo-pairs pulling label-estimated m towards the fixed values when few IDs repeat.
_M_PSEUDO_PAIRS = 50


def _level_case(name: str) -> str:
    """Returns a SQL CASE giving a comparison's gamma (as Splink numbers levels)."""
    levels = _LEVELS[name]
    whens = [f"WHEN {levels[0][1]} THEN -1"] + [
        f"WHEN {level[1]} THEN {len(levels) - 1 - i}"
        for i, level in enumerate(levels)
        if 0 < i < len(levels) - 1
    ]
    return "CASE " + " ".join(whens) + " ELSE 0 END"


def _m_from_id_numbers(db: Backend) -> dict[str, list[float]]:
    """Returns m of the name comparison, learnt from the rows the ID numbers linked.

    Every pair of rows with one ID number is a known match: how often their names agree,
    sound alike or differ is exactly what m means, and hundreds of such pairs beat any
    guess. (Not for phone and dwelling: rows with an ID number come from registration, census
    and labs, which agree on those far more than a property list of old phones and let dwellings
    does; EM learns those from the new rows. Birth date, sex and region come from the ID
    number itself and always agree within one.) A name written n times counts as
    n·(n−1)/2 agreeing pairs, n at most three, so that a person tested ten times does not
    outweigh everyone else.
    """
    levels = _LEVELS["name"]
    counts = dict(
        db.rows(
            f"""
            WITH names AS (SELECT *, least(copies, 3) AS n FROM linli_id_names),
            pairs AS (
              SELECT l.name AS name_l, r.name AS name_r,
                     l.name_pinyin AS name_pinyin_l, r.name_pinyin AS name_pinyin_r,
                     CASE WHEN l.i = r.i THEN l.n * (l.n - 1) / 2 ELSE l.n * r.n END AS weight
              FROM names l JOIN names r ON l.comp = r.comp AND l.i <= r.i
            )
            SELECT {_level_case("name")} AS level, sum(weight) FROM pairs GROUP BY 1
            """  # noqa: S608
        )
    )
    total = sum(float(weight) for level, weight in counts.items() if level >= 0)
    return {
        "name": [
            (float(counts.get(len(levels) - 1 - i, 0)) + _M_PSEUDO_PAIRS * levels[i][2])
            / (total + _M_PSEUDO_PAIRS)
            for i in range(1, len(levels))
        ]
    }


# ---- step 3: clustering -------------------------------------------------------------------
def _gamma(name: str, label: str) -> int:
    levels = _LEVELS[name]
    return next(len(levels) - 1 - i for i, level in enumerate(levels) if level[0] == label)


_C_NAME, _C_BIRTH, _C_SEX = (COMPARISONS.index(name) for name in ("name", "birth_date", "sex"))
_NAME_ALIKE = frozenset((_gamma("name", "exact"), _gamma("name", "same_pinyin")))
_BIRTH_DIFFERENT = _gamma("birth_date", "different")
_SEX_DIFFERENT = _gamma("sex", "different")


def _vetoed(gammas: Sequence[int]) -> bool:
    """Returns whether a pair must not merge whatever its probability.

    Splink multiplies the evidence as if independent, but within a household it is not:
    twins share birthday, phone and dwelling; a father and son may share a name, phone and dwelling.
    So the decisive pieces must hold by themselves: names the same or sounding the same,
    birth dates (when both are known) in the same year, sexes (when known) equal.
    """
    return (
        gammas[_C_NAME] not in _NAME_ALIKE
        or gammas[_C_BIRTH] == _BIRTH_DIFFERENT
        or gammas[_C_SEX] == _SEX_DIFFERENT
    )


def _cluster(
    graph: _Graph,
    table: _SplinkInput,
    edges: Iterable[_Edge],
    settings: MatchSettings,
    review: dict[tuple[int, int], ReviewPair],
) -> int:
    """Merges components along auto-merge edges; fills `review`. Returns the merge count."""
    table_comp = table.row_comp
    # The best edge between two components (allowed edges before vetoed ones).
    best: dict[tuple[int, int], _Edge] = {}
    for edge in edges:
        a, b = table_comp[edge.left], table_comp[edge.right]
        if a == b:
            continue
        pair = (a, b) if a < b else (b, a)
        current = best.get(pair)
        if current is None or (not edge.vetoed, edge.weight) > (
            not current.vetoed,
            current.weight,
        ):
            best[pair] = edge

    # Ambiguity: a component whose best candidate has a rival within the margin who cannot be
    # the same person as that candidate (another ID number or another existing person).
    # Vetoed pairs are no rivals: their weight is household evidence counted twice.
    neighbours: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for (a, b), edge in best.items():
        if edge.vetoed:
            continue
        neighbours[a].append((edge.weight, b))
        neighbours[b].append((edge.weight, a))
    ambiguous: set[int] = set()
    for comp, candidates in neighbours.items():
        if len(candidates) < 2:
            continue
        candidates.sort(reverse=True)
        top_weight, top = candidates[0]
        for weight, other in candidates[1:]:
            if top_weight - weight > settings.ambiguity_margin:
                break
            if not graph.compatible(top, other):
                ambiguous.add(comp)
                break

    merges = 0
    ordered = sorted(best.items(), key=lambda item: (-item[1].weight, item[0]))
    for (a, b), edge in ordered:
        mergeable = (
            edge.probability >= settings.auto_merge
            and not edge.vetoed
            and a not in ambiguous
            and b not in ambiguous
        )
        if mergeable and graph.union(a, b):
            merges += 1
            continue
        if edge.probability >= settings.review:
            review[(a, b)] = ReviewPair(
                left=table.row_key[edge.left],
                right=table.row_key[edge.right],
                probability=round(edge.probability, 6),
                reasons=edge.levels,
            )
    return merges
