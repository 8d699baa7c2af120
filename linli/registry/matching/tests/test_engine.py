"""Entity resolution on small synthetic cases: what merges, what never does, what goes to review."""

import random
from collections import Counter, defaultdict

import pytest
from pypinyin import lazy_pinyin

from linli.registry.matching.engine import MatchSettings, link
from linli.registry.matching.records import LinkResult, MatchRecord

FLAT = {"compound": "翠华小区", "building": "3号楼", "unit": "2单元", "room": "501室"}
OTHER_FLAT = {"compound": "紫薇花园", "building": "7号楼", "unit": "1单元", "room": "1202室"}


def record(key: str, name: str, **fields: object) -> MatchRecord:
    """Returns a MatchRecord as the importer would build it (pinyin from the name)."""
    return MatchRecord(key=key, name=name, name_pinyin=" ".join(lazy_pinyin(name)), **fields)


def together(result: LinkResult, *keys: str) -> bool:
    return len({result.clusters[key] for key in keys}) == 1


def reviewed(result: LinkResult, a: str, b: str) -> bool:
    clusters = {result.clusters[a], result.clusters[b]}
    return any(
        {result.clusters[pair.left], result.clusters[pair.right]} == clusters
        for pair in result.review
    )


def test_no_records():
    """An empty input gives an empty answer."""
    result = link([])
    assert result.clusters == {}
    assert result.review == []
    assert result.auto_merged_pairs == result.id_linked_pairs == 0


def test_one_record():
    """A single row is its own cluster, named by its key."""
    result = link([record("r1", "张伟", phone_hash="P1", **FLAT)])
    assert result.clusters == {"r1": "r1"}
    assert result.review == []


def test_duplicate_keys_are_refused():
    """Two records with one key are a caller's bug, not something to guess around."""
    with pytest.raises(ValueError):
        link([record("r1", "张伟"), record("r1", "李娜")])


def test_same_id_number_merges():
    """Rows with one ID number are one person, whatever else differs (typo, old phone, dwelling)."""
    result = link(
        [
            record("r10", "张伟", id_hash="A", phone_hash="P1", **FLAT),
            record("r9", "張偉", id_hash="A", phone_hash="P2", **OTHER_FLAT),
            record("r11", "李娜", id_hash="B"),
        ]
    )
    assert together(result, "r9", "r10")
    # A new cluster is named by its smallest r-key, compared as a number.
    assert result.clusters["r10"] == "r9"
    assert result.clusters["r11"] == "r11"
    assert result.id_linked_pairs == 1
    assert result.auto_merged_pairs == 0


def test_different_id_numbers_never_merge():
    """Two valid ID numbers are two people, even with one name, birthday, phone and dwelling."""
    same = {"birth_date": "1980-05-17", "sex": "M", "phone_hash": "P1", **FLAT}
    result = link(
        [
            record("r1", "张伟", id_hash="A", **same),
            record("r2", "张伟", id_hash="B", **same),
        ]
    )
    assert not together(result, "r1", "r2")


def test_row_without_id_cannot_bridge_two_id_numbers():
    """A row without ID that fits both joins at most one of them, and a person looks at it."""
    same = {"phone_hash": "P1", **FLAT}
    result = link(
        [
            record("r1", "张伟", id_hash="A", birth_date="1950-03-02", **same),
            record("r2", "张伟", id_hash="B", birth_date="1975-08-09", **same),
            record("r3", "张伟", **same),
        ]
    )
    assert not together(result, "r1", "r2")
    assert not together(result, "r1", "r3") or not together(result, "r2", "r3")
    assert reviewed(result, "r1", "r3") or reviewed(result, "r2", "r3")


def test_homophone_typo_with_same_phone_flat_and_birthday_merges():
    """张玮 typed for 张伟 (同音字), same phone, dwelling and birth date: the same man."""
    result = link(
        [
            record(
                "r1", "张伟", id_hash="A", birth_date="1980-05-17", sex="M", phone_hash="P1", **FLAT
            ),
            record("r2", "张玮", birth_date="1980-05-17", phone_hash="P1", **FLAT),
        ]
    )
    assert together(result, "r1", "r2")
    assert result.auto_merged_pairs == 1


def test_traditional_characters_folded_upstream_match_exactly():
    """A property row without ID or birthday, same name, phone and dwelling, joins the person."""
    result = link(
        [
            record("r1", "刘丽华", id_hash="A", birth_date="1975-01-02", phone_hash="P1", **FLAT),
            record("r2", "刘丽华", phone_hash="P1", **FLAT, source="property"),
        ]
    )
    assert together(result, "r1", "r2")


def test_twins_do_not_merge():
    """Twins share birth date, dwelling and phone; different given names keep them apart."""
    same = {"birth_date": "2012-09-01", "phone_hash": "P1", **FLAT}
    result = link([record("r1", "张欣怡", **same), record("r2", "张欣悦", **same)])
    assert not together(result, "r1", "r2")


def test_twins_with_id_numbers_do_not_merge():
    """Twins with their ID numbers (consecutive, different) are never one person."""
    same = {"birth_date": "2012-09-01", "sex": "F", "phone_hash": "P1", **FLAT}
    result = link(
        [
            record("r1", "张欣怡", id_hash="A", **same),
            record("r2", "张欣悦", id_hash="B", **same),
            record("r3", "张欣怡", phone_hash="P1", **FLAT),
        ]
    )
    assert not together(result, "r1", "r2")
    assert together(result, "r1", "r3")


def test_father_and_son_with_one_name_do_not_merge():
    """Same name, same dwelling, same household phone, born 25 years apart: two people."""
    result = link(
        [
            record("r1", "王建国", birth_date="1950-03-02", sex="M", phone_hash="P1", **FLAT),
            record("r2", "王建国", birth_date="1975-08-09", sex="M", phone_hash="P1", **FLAT),
        ]
    )
    assert not together(result, "r1", "r2")


def test_one_file_listing_a_name_twice_at_a_flat_lists_two_people():
    """A census lists the father (with ID) and the son (ID missing) at one dwelling with their own
    phones: the son's row does not join the father, though name and dwelling agree."""
    result = link(
        [
            record(
                "r1",
                "王建国",
                id_hash="A",
                birth_date="1950-03-02",
                phone_hash="P1",
                source="census",
                **FLAT,
            ),
            record("r2", "王建国", phone_hash="P2", source="census", **FLAT),
        ]
    )
    assert not together(result, "r1", "r2")


def test_new_row_joins_existing_person():
    """New rows join an existing person, who keeps the p-key as the cluster id."""
    result = link(
        [
            record(
                "p7", "李娜", id_hash="A", birth_date="1990-01-01", phone_hash="P1", dwelling_id=42
            ),
            record("r1", "李娜", id_hash="A"),
            record("r2", "李娜", phone_hash="P1", dwelling_id=42),
            record("r3", "赵敏", phone_hash="P9"),
        ]
    )
    assert result.clusters["r1"] == "p7"
    assert result.clusters["r2"] == "p7"
    assert result.clusters["p7"] == "p7"
    assert result.clusters["r3"] == "r3"


def test_two_existing_persons_are_never_merged_but_reviewed():
    """Existing persons that look the same stay apart; the pair goes to the review queue."""
    same = {"birth_date": "1960-02-02", "phone_hash": "P1", **FLAT}
    result = link([record("p1", "陈静", **same), record("p2", "陈静", **same)])
    assert result.clusters == {"p1": "p1", "p2": "p2"}
    assert reviewed(result, "p1", "p2")
    pair = result.review[0]
    assert {pair.left, pair.right} == {"p1", "p2"}
    assert pair.reasons["name"] == "exact"


def test_existing_persons_are_not_compared_when_asked_not_to():
    """With compare_existing off, look-alike existing persons are left alone."""
    same = {"birth_date": "1960-02-02", "phone_hash": "P1", **FLAT}
    result = link(
        [record("p1", "陈静", **same), record("p2", "陈静", **same)],
        settings=MatchSettings(compare_existing=False),
    )
    assert result.clusters == {"p1": "p1", "p2": "p2"}
    assert result.review == []


def test_new_row_fitting_two_existing_persons_joins_at_most_one():
    """A row that fits two existing persons cannot make them one."""
    same = {"phone_hash": "P1", **FLAT}
    result = link(
        [record("p1", "陈静", **same), record("p2", "陈静", **same), record("r1", "陈静", **same)]
    )
    assert result.clusters["p1"] == "p1"
    assert result.clusters["p2"] == "p2"
    assert result.clusters["r1"] in {"p1", "p2", "r1"}


def test_existing_persons_sharing_an_id_number_go_to_review():
    """Two existing persons with one ID number are not merged silently; new rows with that ID
    join the first."""
    result = link(
        [
            record("p1", "陈静", id_hash="A"),
            record("p2", "陈静", id_hash="A"),
            record("r1", "陈静", id_hash="A"),
        ]
    )
    assert result.clusters == {"p1": "p1", "p2": "p2", "r1": "p1"}
    assert reviewed(result, "p1", "p2")


def test_name_alone_is_not_enough():
    """Two rows sharing only a common name are not merged."""
    result = link([record("r1", "王伟", phone_hash="P1"), record("r2", "王伟", phone_hash="P2")])
    assert not together(result, "r1", "r2")


def test_progress_is_reported_to_the_end():
    """The progress callback hears stages with fractions that end at 1."""
    seen: list[tuple[str, float]] = []
    link(
        [record("r1", "张伟", phone_hash="P1"), record("r2", "张玮", phone_hash="P1")],
        progress=lambda stage, fraction: seen.append((stage, fraction)),
    )
    fractions = [fraction for _, fraction in seen]
    assert fractions == sorted(fractions)
    assert seen[-1] == ("done", 1.0)


def _community(seed: int) -> tuple[list[MatchRecord], dict[str, int]]:
    """Returns rows of three departments about ~600 households, and each row's person.

    Registration rows carry ID numbers; census rows mostly do; property rows never do, and
    name the owner (sometimes with a homophone typo or an old phone). Households share a
    contact phone for children; some names repeat across the compound.
    """
    rng = random.Random(seed)
    surnames = "王李张刘陈杨黄赵吴周"
    given = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚辉鹏华飞鑫波斌宇浩凯俊峰"
    homophone = {"伟": "玮", "静": "晶", "丽": "莉", "杰": "洁", "明": "鸣", "峰": "锋"}
    records: list[MatchRecord] = []
    person_of: dict[str, int] = {}
    people = 0

    def add(person: int, name: str, **fields: object) -> None:
        key = f"r{len(records) + 1}"
        records.append(record(key, name, **fields))
        person_of[key] = person

    for household in range(600):
        dwelling = {
            "compound": "翠华小区",
            "building": f"{household // 40 + 1}号楼",
            "unit": f"{household // 20 % 2 + 1}单元",
            "room": f"{household % 20 + 101}室",
        }
        surname = rng.choice(surnames)
        members = []
        for position in range(rng.randint(1, 4)):
            people += 1
            name = (surname if position != 1 else rng.choice(surnames)) + "".join(
                rng.choice(given) for _ in range(rng.choice((1, 2, 2)))
            )
            birth = f"{rng.randint(1940, 2015)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            members.append((people, name, birth, f"ID{people}", f"PH{people}"))
        household_phone = members[0][4]
        for person, name, birth, id_hash, phone in members:
            add(person, name, id_hash=id_hash, birth_date=birth, source="registration", **dwelling)
            census_id = id_hash if rng.random() > 0.05 else ""
            add(
                person,
                name,
                id_hash=census_id,
                birth_date=birth if census_id else "",
                phone_hash=phone if person == members[0][0] else household_phone,
                source="census",
                **dwelling,
            )
        owner, name, _, _, phone = members[0]
        if rng.random() < 0.05:
            name = "".join(homophone.get(char, char) for char in name)
        add(
            owner,
            name,
            phone_hash=phone if rng.random() > 0.1 else f"OLD{owner}",
            source="property",
            **dwelling,
        )
    return records, person_of


def _pairs(groups: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in groups.values())


def test_community_sized_input_is_trained_and_makes_no_false_merge():
    """Above the training threshold (u counted, m of names from the ID links, EM on the new
    rows) a community's files link with no false merge and few missed ones."""
    records, person_of = _community(seed=3)
    assert len(records) > 1000
    assert sum(1 for item in records if not item.id_hash) > 300
    result = link(records, settings=MatchSettings(min_rows_for_em=300))
    cells: Counter = Counter()
    clusters: Counter = Counter()
    persons: Counter = Counter()
    for key, cluster in result.clusters.items():
        cells[(cluster, person_of[key])] += 1
        clusters[cluster] += 1
        persons[person_of[key]] += 1
    true_positive = _pairs(cells)
    assert true_positive == _pairs(clusters)  # precision 1
    assert true_positive / _pairs(persons) > 0.97
    # Every cluster holds at most one ID number.
    ids = defaultdict(set)
    for item in records:
        if item.id_hash:
            ids[result.clusters[item.key]].add(item.id_hash)
    assert all(len(values) == 1 for values in ids.values())


def test_result_is_deterministic():
    """The same input gives the same clusters and review pairs."""
    records, _ = _community(seed=5)
    first, second = link(records), link(records)
    assert first.clusters == second.clusters
    assert first.review == second.review


def test_training_with_nothing_to_learn_falls_back():
    """EM with no candidate pairs (every name unique) falls back to the fixed m and still
    answers: nobody merges."""
    records = [
        record(f"r{i}", f"{surname}{i}", phone_hash=f"P{i}")
        for i, surname in enumerate("王李张刘陈" * 240)
    ]
    result = link(records, settings=MatchSettings(min_rows_for_em=100))
    assert len(set(result.clusters.values())) == len(records)


def test_u_from_frequencies_agrees_with_random_sampling():
    """u counted from value frequencies (and a sample for the fuzzy levels) estimates what
    Splink's random sampling of pairs does: within sampling noise on every level common
    enough for a million random pairs to measure."""
    from splink import Linker

    from linli.registry.matching import engine
    from linli.registry.matching.backends import open_backend

    records, _ = _community(seed=3)
    table = engine._SplinkInput(engine._Graph(records))
    settings = MatchSettings()
    with open_backend("duckdb", threads=2) as db:
        db.load("linli_records", table.arrow())
        counted = engine._u_from_population(db, settings, table.rows)
        model = engine._model(settings, prior=1e-3, m={}, u={}, term_frequencies=False)
        linker = Linker(db.splink_api.register("linli_records"), model, log_level=None)
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1, num_chunks=1)
        sampled_model = linker.misc.save_model_to_json()
    compared = 0
    for comparison in sampled_model["comparisons"]:
        name = comparison["output_column_name"]
        sampled = [level["u_probability"] for level in comparison["comparison_levels"][1:]]
        if name not in counted:  # a column the community never fills (sex here)
            continue
        for mine, theirs in zip(counted[name], sampled, strict=True):
            if theirs > 0.005 and mine is not None:
                assert mine == pytest.approx(theirs, rel=0.15, abs=0.003), name
                compared += 1
            elif theirs > 1e-4 and mine is not None:  # rare: a few hundred sampled pairs
                assert theirs / 2 < mine < theirs * 2, name
                compared += 1
    assert compared >= 8
    # The exact levels are counted, not sampled: never "not observed" in a community.
    assert all(counted[name][0] for name in ("name", "birth_date", "phone"))
