"""Entity resolution: which imported rows and existing persons are one person.

`link()` answers in three steps, pure Python and DuckDB (no Django models, no writes):

1. **ID numbers.** Rows carrying the same keyed hash of a valid ID number are one person
   (union-find). Two different valid ID numbers are two different people, always: no later
   step may join them, however alike the rest looks.
2. **Probabilistic matching** (Splink on DuckDB) for what the ID numbers cannot decide: pairs
   where at least one side has no ID number. Each ID cluster enters Splink as its distinct
   profiles (name, phone, dwelling … as the files wrote them), so 50,000 rows shrink to the few
   thousand records that matter, and term frequencies count people, not rows. Comparisons are
   Chinese-aware: the same characters, the same toneless pinyin (同音字 typos), one character
   off; birth date; sex; region; phone and dwelling as household-level evidence with
   term-frequency adjustment (a family shares one phone and one flat).
3. **Constrained clustering.** Pairs above `auto_merge` join clusters greedily from the most
   certain down, unless the join would put two ID numbers or two existing persons in one
   cluster; pairs between `review` and `auto_merge`, and pairs the guards below refuse, go to
   the review queue.

Precision comes first (a false merge mixes two people's health data), so a probability alone
never merges a pair whose names neither match nor sound alike, whose known birth dates are in
different years, whose known sexes differ, or whose record has a second candidate almost as
good who is provably somebody else (a father and son with one name at one flat). Splink's
model assumes its comparisons are independent; household members break that assumption (same
phone, same flat, twins with the same birthday), and these guards are where the code says so.

Keys: "p…" records are existing persons (one record each, already deduplicated: two of them
are never merged automatically, only put in review) and keep their key as cluster id; "r…" are
new rows, and a new cluster takes its smallest r-key as id.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .records import LinkResult, MatchRecord, ReviewPair

ProgressCallback = Callable[[str, float], None]  # (stage, fraction of the whole run done)


@dataclass(frozen=True)
class MatchSettings:
    """How link() decides; the defaults were tuned on bench/registry_data.py files."""

    # Match probability at or above which a pair merges without a person looking at it.
    auto_merge: float = 0.99
    # Match probability from which a pair is worth a data steward's look.
    review: float = 0.5
    # A record whose best candidate is within this many match-weight bits (log2 Bayes
    # factor) of a candidate that is provably someone else is ambiguous: nothing merges.
    ambiguity_margin: float = 5.0
    # Below this many records Splink has too few pairs to train on: use FIXED_PARAMETERS.
    min_records_to_train: int = 1000
    # Compare existing persons among themselves, to put look-alikes in review.
    compare_existing: bool = True
    threads: int = 2
    seed: int = 2026
    u_max_pairs: float = 2e6  # random pairs for estimating u


# ---- comparisons ----------------------------------------------------------------------------
# Each level: (label, SQL condition, m, u, term-frequency column or None). The first level of
# every comparison is the null level (no evidence either way), the last is ELSE.
#
# The m/u numbers are the fixed parameters used for small inputs and the starting point of
# EM on large ones. They were read off a trained model on 50,000 generated department rows
# and rounded towards caution: m = how often one person's two records agree at that level,
# u = how often two different people's records do, over random pairs of a ~20,000-person
# community.
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
        (
            "missing",
            "(dwelling_key_l IS NULL AND room_key_l IS NULL AND building_key_l IS NULL)"
            " OR (dwelling_key_r IS NULL AND room_key_r IS NULL AND building_key_r IS NULL)",
            0,
            0,
            None,
        ),
        ("exact", "dwelling_key_l = dwelling_key_r", 0.85, 0.0002, "dwelling_key"),
        # "三栋二单元501" without the compound: the same flat number in some compound.
        (
            "same_room_compound_unknown",
            "room_key_l = room_key_r AND (compound_l IS NULL OR compound_r IS NULL)",
            0.06,
            0.0006,
            None,
        ),
        ("same_building", "building_key_l = building_key_r", 0.02, 0.01, None),
        ("different", "ELSE", 0.07, 0.9892, None),
    ],
}
COMPARISONS = tuple(_LEVELS)
# Labels by Splink's gamma value: the ELSE level is 0, the null level -1.
_LABEL_BY_GAMMA = {
    name: {len(levels) - 1 - i: levels[i][0] for i in range(1, len(levels))} | {-1: "missing"}
    for name, levels in _LEVELS.items()
}
# A record with no ID number meets another at the prior odds of one match per record among
# ~this many candidates (used for small inputs, where counting cannot estimate it).
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
# EM sees pairs blocked on one piece of evidence and learns the m of the others; pairs within
# one ID cluster are left out because their profiles differ by construction (identical ones
# were collapsed) and would make agreement look rarer among matches than it is.
_TRAINING_RULES = (
    "l.phone_hash = r.phone_hash AND l.comp <> r.comp",
    "l.name_pinyin = r.name_pinyin AND l.comp <> r.comp",
)


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
        self.comp_of: list[int] = [0] * len(records)
        self.comp_members: list[list[int]] = []
        self.comp_id_hash: list[str] = []
        self.comp_existing: list[str] = []  # the "p…" key in the component, or ""
        self.comp_key: list[str] = []  # the representative key (the p-key, else the smallest)
        self.id_conflicts: list[tuple[int, int]] = []  # existing persons sharing an ID number
        self.id_linked_pairs = 0
        by_id: dict[str, list[int]] = defaultdict(list)
        for i, record in enumerate(records):
            if record.id_hash:
                by_id[record.id_hash].append(i)
            else:
                self._new_component([i], "")
        for id_hash, members in by_id.items():
            existing = sorted(
                (i for i in members if _is_existing(records[i].key)),
                key=lambda i: _key_order(records[i].key),
            )
            rows = [i for i in members if not _is_existing(records[i].key)]
            anchor = self._new_component(existing[:1] + rows, id_hash)
            self.id_linked_pairs += len(existing[:1] + rows) - 1
            # Two existing persons with one ID number: the registry was wrong once already;
            # a person decides which is right.
            for extra in existing[1:]:
                self.id_conflicts.append((anchor, self._new_component([extra], id_hash)))
        self._parent = list(range(len(self.comp_members)))

    def _new_component(self, members: list[int], id_hash: str) -> int:
        comp = len(self.comp_members)
        keys = sorted((self.records[i].key for i in members), key=_key_order)
        self.comp_members.append(members)
        self.comp_id_hash.append(id_hash)
        self.comp_existing.append(keys[0] if _is_existing(keys[0]) else "")
        self.comp_key.append(keys[0])
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
        existing person between them."""
        id_a, id_b = self.comp_id_hash[a], self.comp_id_hash[b]
        if id_a and id_b and id_a != id_b:
            return False
        return not (self.comp_existing[a] and self.comp_existing[b])

    def union(self, a: int, b: int) -> bool:
        a, b = self.find(a), self.find(b)
        if a == b or not self.compatible(a, b):
            return False
        if _key_order(self.comp_key[b]) < _key_order(self.comp_key[a]):
            a, b = b, a
        self._parent[b] = a
        self.comp_id_hash[a] = self.comp_id_hash[a] or self.comp_id_hash[b]
        self.comp_existing[a] = self.comp_existing[a] or self.comp_existing[b]
        return True

    def cluster_ids(self) -> dict[str, str]:
        """Returns record key → cluster id: the existing person's key, else the smallest."""
        return {
            record.key: self.comp_key[self.find(self.comp_of[i])]
            for i, record in enumerate(self.records)
        }


# ---- step 2: Splink -----------------------------------------------------------------------
_DIGITS = re.compile(r"\d+")


def _address_part(text: str) -> str:
    """Returns the number of "3号楼"/"3栋"/"501室" (the importer names them canonically;
    this only keeps two spellings of one number equal), else the stripped text."""
    text = text.strip()
    match = _DIGITS.search(text)
    return str(int(match.group())) if match else text


class _SplinkInput:
    """The records Splink sees: each ID component's distinct profiles, each other record."""

    COLUMNS = (
        "unique_id", "comp", "existing", "id_hash", "copies", "name", "name_pinyin", "surname_py",
        "given_py", "birth_date", "sex", "region_code", "phone_hash", "compound",
        "dwelling_key", "room_key", "building_key",
    )  # fmt: skip

    def __init__(self, graph: _Graph) -> None:
        self.graph = graph
        self.rows: list[list[Any]] = []
        self.row_key: list[str] = []  # a record key each Splink row stands for
        seen: dict[tuple[Any, ...], int] = {}
        for comp, members in enumerate(graph.comp_members):
            id_hash = graph.comp_id_hash[comp] or None
            existing = bool(graph.comp_existing[comp])
            for i in sorted(members, key=lambda i: _key_order(graph.records[i].key)):
                profile = _profile(graph.records[i])
                if id_hash is not None:
                    # One row per distinct way the files wrote this person.
                    if (comp, profile) in seen:
                        self.rows[seen[(comp, profile)]][4] += 1
                        continue
                    seen[(comp, profile)] = len(self.rows)
                self.rows.append([len(self.rows), comp, existing, id_hash, 1, *profile])
                self.row_key.append(graph.records[i].key)
        self.without_id = sum(1 for row in self.rows if row[3] is None)

    def worth_scoring(self, settings: MatchSettings) -> bool:
        """Returns whether any pair is left for probability to decide."""
        if len(self.rows) < 2 or self.without_id == 0:
            return False
        if settings.compare_existing:
            return True
        # Only existing persons without an ID: nothing new to compare.
        return any(row[3] is None and not row[2] for row in self.rows)

    def arrow(self):  # -> pyarrow.Table
        import pyarrow as pa

        columns = list(zip(*self.rows, strict=True)) if self.rows else [[]] * len(self.COLUMNS)
        types = {
            "unique_id": pa.int64(),
            "comp": pa.int64(),
            "existing": pa.bool_(),
            "copies": pa.int64(),
        }
        return pa.table(
            {
                name: pa.array(values, type=types.get(name, pa.string()))
                for name, values in zip(self.COLUMNS, columns, strict=True)
            }
        )


def _profile(record: MatchRecord) -> tuple[str | None, ...]:
    name = record.name.strip() or None
    pinyin = " ".join(record.name_pinyin.lower().split()) or None
    syllables = pinyin.split() if pinyin else []
    compound = record.compound.strip() or None
    building = _address_part(record.building)
    unit = _address_part(record.unit)
    room = _address_part(record.room)
    # The dwelling on the area tree when the importer resolved it (existing persons carry
    # nothing else), else the flat as written.
    if record.dwelling_id is not None:
        dwelling_key = f"#{record.dwelling_id}"
    elif compound and building and room:
        dwelling_key = f"{compound}|{building}|{unit}|{room}"
    else:
        dwelling_key = None
    return (
        name,
        pinyin,
        syllables[0] if syllables else None,
        " ".join(syllables[1:]) or None,
        record.birth_date.strip() or None,
        record.sex.strip() or None,
        record.region_code.strip() or None,
        record.phone_hash or None,
        compound,
        dwelling_key,
        f"{building}|{unit}|{room}" if building and room else None,
        f"{compound}|{building}" if compound and building else None,
    )


@dataclass(frozen=True)
class _Edge:
    left: int  # Splink row
    right: int
    weight: float  # log2 Bayes factor including the prior
    probability: float
    levels: dict[str, str]


def _comparisons(m: dict[str, list[float]], *, term_frequencies: bool) -> list[dict[str, Any]]:
    """Returns Splink comparison dicts with m from `m` (by comparison, per non-null level)
    or the fixed defaults. Small inputs go without term frequencies: counted in a handful of
    records, every value looks common."""
    comparisons = []
    for name, levels in _LEVELS.items():
        specs = []
        for i, (label, condition, m_fixed, u_fixed, tf_column) in enumerate(levels):
            spec: dict[str, Any] = {"sql_condition": condition, "label_for_charts": label}
            if i == 0:
                spec["is_null_level"] = True
            else:
                spec["m_probability"] = m[name][i - 1] if name in m else m_fixed
                spec["u_probability"] = u_fixed
                spec["fix_m_probability"] = name not in _M_FROM_EM
            if tf_column and term_frequencies:
                spec["tf_adjustment_column"] = tf_column
                spec["tf_adjustment_weight"] = 1.0
            specs.append(spec)
        comparisons.append({"output_column_name": name, "comparison_levels": specs})
    return comparisons


def _score(table: _SplinkInput, settings: MatchSettings, report: ProgressCallback) -> list[_Edge]:
    import duckdb
    from splink import DuckDBAPI, Linker, SettingsCreator

    con = duckdb.connect(":memory:")
    try:
        con.sql(f"SET threads = {int(settings.threads)}")
        con.register("linli_records_arrow", table.arrow())
        con.sql("CREATE TABLE linli_records AS SELECT * FROM linli_records_arrow")
        con.unregister("linli_records_arrow")
        db_api = DuckDBAPI(connection=con)
        records = db_api.register("linli_records")
        train = len(table.rows) >= settings.min_records_to_train
        prior = _prior(con, table, estimate=train)
        m = _m_from_id_numbers(con) if train else {}
        linker = Linker(
            records,
            SettingsCreator(
                link_type="dedupe_only",
                comparisons=_comparisons(m, term_frequencies=train),
                blocking_rules_to_generate_predictions=[
                    f"{rule} AND {_eligible(settings)}" for rule in _BLOCKING_RULES
                ],
                probability_two_random_records_match=prior,
                # Splink keeps the gamma columns (each pair's levels: what the guards and the
                # review reasons read) only together with the matching columns.
                retain_matching_columns=True,
                retain_intermediate_calculation_columns=False,
                max_iterations=20,
                em_convergence=0.001,
            ),
            log_level=None,
        )
        if train:
            report("training", 0.2)
            _register_term_frequencies(con, db_api, linker)
            _train(linker, settings, report)
        report("predicting", 0.6)
        predictions = linker.inference.predict(
            threshold_match_probability=settings.review, warning_mode="never"
        )
        gammas = ", ".join(f"gamma_{name}" for name in COMPARISONS)
        rows = con.sql(
            f"SELECT unique_id_l, unique_id_r, match_weight, match_probability, {gammas} "
            f"FROM {predictions.physical_name}"
        ).fetchall()
    finally:
        con.close()
    return [
        _Edge(
            left=row[0],
            right=row[1],
            weight=row[2],
            probability=row[3],
            levels={
                name: _LABEL_BY_GAMMA[name].get(gamma, str(gamma))
                for name, gamma in zip(COMPARISONS, row[4:], strict=True)
            },
        )
        for row in rows
    ]


def _eligible(settings: MatchSettings) -> str:
    if settings.compare_existing:
        return _ELIGIBLE
    return f"{_ELIGIBLE} AND NOT (l.existing AND r.existing)"


def _prior(con: Any, table: _SplinkInput, *, estimate: bool) -> float:
    """Returns the probability that two records of an eligible pair are one person.

    Counted, on large inputs, as the pairs agreeing on sound of name and on phone or flat
    (assumed to find 80% of the matches) over all pairs with a side without ID number; small
    inputs cannot count it and take one and a half matches per record in a community-sized
    registry.
    """
    n = len(table.rows)
    without = table.without_id
    eligible = without * (n - without) + without * (without - 1) / 2
    if not estimate or eligible <= 0:
        return FIXED_MATCHES_PER_RECORD / FIXED_COMMUNITY_RECORDS
    found = con.sql(
        f"""
        SELECT count(*) FROM linli_records l JOIN linli_records r
          ON l.name_pinyin = r.name_pinyin AND l.unique_id < r.unique_id
        WHERE {_ELIGIBLE}
          AND (l.phone_hash = r.phone_hash OR l.dwelling_key = r.dwelling_key
               OR l.room_key = r.room_key)
        """
    ).fetchall()[0][0]
    # Scaled like the term frequencies (see _register_term_frequencies).
    scale = min(1.0, n / FIXED_COMMUNITY_RECORDS)
    return min(0.5, max(found / 0.8, 1.0) / eligible * scale)


def _register_term_frequencies(con: Any, db_api: Any, linker: Any) -> None:
    """Term frequencies by person, not by row: a person written three ways (three Splink
    rows of one ID component) must not make their phone look like a family's."""
    columns = sorted({level[4] for levels in _LEVELS.values() for level in levels if level[4]})
    components = con.sql("SELECT count(DISTINCT comp) FROM linli_records").fetchall()[0][0]
    population = max(components, FIXED_COMMUNITY_RECORDS)
    for column in columns:
        name = f"linli_tf_{column}"
        con.sql(
            f"""
            CREATE TABLE {name} AS
            SELECT {column}, count(DISTINCT comp) / {float(population)} AS tf_{column}
            FROM linli_records WHERE {column} IS NOT NULL GROUP BY {column}
            """
        )
        linker.table_management.register_term_frequency_lookup(db_api.register(name), column)


def _train(linker: Any, settings: MatchSettings, report: ProgressCallback) -> None:
    """u from random pairs (Splink's recipe; m came from the ID numbers)."""
    linker.training.estimate_u_using_random_sampling(
        max_pairs=settings.u_max_pairs, seed=settings.seed
    )
    report("training", 0.4)
    linker.training.estimate_parameters_using_expectation_maximisation(
        f"l.name_pinyin = r.name_pinyin AND {_ELIGIBLE}", estimate_without_term_frequencies=True
    )


_M_FROM_EM = ("phone", "dwelling")


# Pseudo-pairs pulling label-estimated m towards the fixed values when few IDs repeat.
_M_PSEUDO_PAIRS = 50
# Comparisons whose m the ID numbers teach; birth date, sex and region come from the ID
# number itself, so they always agree within one, and keep their fixed m.
_M_FROM_LABELS = ("name", "phone", "dwelling")


def _level_case(name: str) -> str:
    levels = _LEVELS[name]
    whens = [f"WHEN {levels[0][1]} THEN -1"] + [
        f"WHEN {condition} THEN {len(levels) - 1 - i}"
        for i, (_, condition, *_rest) in enumerate(levels)
        if 0 < i < len(levels) - 1
    ]
    return "CASE " + " ".join(whens) + " ELSE 0 END"


def _m_from_id_numbers(con: Any) -> dict[str, list[float]]:
    """Returns m per comparison level, learnt from the rows the ID numbers already linked.

    Every pair of rows with one ID number is a known match: how often their names, phones
    and flats agree is exactly what m means. Splink's EM, tried first, took the household
    for the person here (family members share phone and flat, so "same flat" looked like
    the match class) and learnt m(name different) ≈ 0.5; the ID numbers do not have that
    problem. Identical rows of one person were collapsed into one Splink row with `copies`;
    they count as agreeing pairs, at most three copies each so a person tested ten times does
    not outweigh everyone else.
    """
    profile_columns = _SplinkInput.COLUMNS[5:]
    select = ", ".join(f"l.{c} AS {c}_l, r.{c} AS {c}_r" for c in profile_columns)
    con.sql(
        f"""
        CREATE TEMP TABLE linli_labelled_pairs AS
        SELECT {select},
          CASE WHEN l.unique_id = r.unique_id
               THEN least(l.copies, 3) * (least(l.copies, 3) - 1) / 2
               ELSE least(l.copies, 3) * least(r.copies, 3) END AS weight
        FROM linli_records l JOIN linli_records r
          ON l.comp = r.comp AND l.unique_id <= r.unique_id
        WHERE l.id_hash IS NOT NULL
        """
    )
    m: dict[str, list[float]] = {}
    for name in _M_FROM_LABELS:
        levels = _LEVELS[name]
        counts = dict(
            con.sql(
                f"SELECT {_level_case(name)} AS level, sum(weight) FROM linli_labelled_pairs "
                "GROUP BY level"
            ).fetchall()
        )
        total = sum(float(w) for level, w in counts.items() if level >= 0)
        m[name] = [
            (float(counts.get(len(levels) - 1 - i, 0)) + _M_PSEUDO_PAIRS * levels[i][2])
            / (total + _M_PSEUDO_PAIRS)
            for i in range(1, len(levels))
        ]
    con.sql("DROP TABLE linli_labelled_pairs")
    return m


# ---- step 3: clustering -------------------------------------------------------------------
def _vetoed(levels: dict[str, str]) -> bool:
    """Returns whether a pair must not merge whatever its probability.

    Splink multiplies the evidence as if independent, but within a household it is not:
    twins share birthday, phone and flat; a father and son may share a name, phone and flat.
    So the decisive pieces must hold by themselves: names the same or sounding the same,
    birth dates (when both are known) in the same year, sexes (when known) equal.
    """
    return (
        levels["name"] not in ("exact", "same_pinyin")
        or levels["birth_date"] == "different"
        or levels["sex"] == "different"
    )


def _cluster(
    graph: _Graph,
    table: _SplinkInput,
    edges: Iterable[_Edge],
    settings: MatchSettings,
    review: dict[tuple[int, int], ReviewPair],
) -> int:
    """Merges components along auto-merge edges; fills `review`. Returns the merge count."""
    table_comp = [row[1] for row in table.rows]
    # The best edge between two components (allowed edges before vetoed ones).
    best: dict[tuple[int, int], _Edge] = {}
    for edge in edges:
        a, b = table_comp[edge.left], table_comp[edge.right]
        if a == b:
            continue
        pair = (a, b) if a < b else (b, a)
        current = best.get(pair)
        if current is None or (not _vetoed(edge.levels), edge.weight) > (
            not _vetoed(current.levels),
            current.weight,
        ):
            best[pair] = edge

    # Ambiguity: a component whose best candidate has a rival within the margin who cannot be
    # the same person as that candidate (another ID number or another existing person).
    # Vetoed pairs are no rivals: their weight is household evidence counted twice.
    neighbours: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for (a, b), edge in best.items():
        if _vetoed(edge.levels):
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
            and not _vetoed(edge.levels)
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
                reasons=dict(edge.levels),
            )
    return merges
