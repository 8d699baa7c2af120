"""Matching on Spark (local mode) links exactly as on DuckDB: one model, two engines.

Skipped when Java or pyspark is missing, unless LINLI_REQUIRE_SPARK=1 (CI), where that fails.
One local Spark session serves the module (starting one costs seconds), and the inputs are
small: on small data Spark spends its time planning queries and scheduling tasks, and each
link is dozens of queries.
"""

import importlib.util
import logging
import os
import shutil

import pytest

from linli.registry.importing import pipeline
from linli.registry.matching import engine
from linli.registry.matching.engine import MatchSettings, link
from linli.registry.matching.tests.test_engine import _community, record
from linli.registry.models import BatchStatus, Person, SourceRecord

MISSING = [
    what
    for what, present in (
        ("java", shutil.which("java") is not None),
        ("pyspark", importlib.util.find_spec("pyspark") is not None),
    )
    if not present
]
REQUIRED = os.environ.get("LINLI_REQUIRE_SPARK") == "1"

pytestmark = pytest.mark.skipif(
    bool(MISSING) and not REQUIRED,
    reason=f"{' and '.join(MISSING)} not installed (LINLI_REQUIRE_SPARK=1 makes this a failure)",
)


@pytest.fixture(scope="module")
def spark():
    """The local Spark session the engine finds running (as under spark-submit)."""
    assert not MISSING, f"{', '.join(MISSING)} required (LINLI_REQUIRE_SPARK=1)"
    from linli.registry.matching.backends import spark_session

    session = spark_session("local[2]", threads=2)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    # py4j says goodbye at exit, after pytest has closed the streams logging writes to.
    logging.getLogger("py4j").setLevel(logging.WARNING)


@pytest.fixture
def engines_used(monkeypatch):
    """Records the engine of every backend link() opens."""
    used: list[str] = []
    opened = engine.open_backend

    def spy(name, **options):
        used.append(name)
        return opened(name, **options)

    monkeypatch.setattr(engine, "open_backend", spy)
    return used


FLAT = {
    "birth_date": "2001-03-04",
    "phone_hash": "P2",
    "compound": "翠华小区",
    "building": "3号楼",
    "unit": "2单元",
    "room": "501室",
}


def test_small_input_links_as_on_duckdb(spark, engines_used):
    """The fixed model (an input too small to train on): homophones at one phone and
    birthday merge, twins and a lone namesake do not, the review queue is the same."""
    records = [
        record("p1", "张伟", id_hash="A", birth_date="1980-05-17", phone_hash="P1"),
        record("r1", "张玮", birth_date="1980-05-17", phone_hash="P1"),
        record("r2", "李娜", **FLAT),
        record("r3", "李娜", **FLAT, source="census"),
        record("r4", "李娜", **FLAT, source="census"),
        record("r5", "王芳", phone_hash="P9"),
        record("r6", "王芳"),
    ]
    on_duckdb = link(records)
    on_spark = link(records, settings=MatchSettings(engine="spark"))
    assert engines_used == ["duckdb", "spark"]
    assert on_spark.clusters == on_duckdb.clusters
    assert on_spark.review == on_duckdb.review
    assert on_spark.clusters["r1"] == "p1"
    assert on_spark.clusters["r3"] != on_spark.clusters["r4"]  # one file, one flat: two people
    assert on_spark.clusters["r5"] != on_spark.clusters["r6"]


def test_trained_model_links_as_on_duckdb(spark):
    """Rows of a community's three departments, with the training thresholds lowered so
    that 900 rows train the model as a city's files do (u counted, m of names from the ID
    numbers, EM on the new rows): the same clusters, the same review pairs with the same
    probabilities and reasons."""
    records, _ = _community(seed=3)
    records = records[:900]
    thresholds = {"min_records_to_train": 300, "min_rows_for_em": 100}
    on_duckdb = link(records, settings=MatchSettings(**thresholds))
    on_spark = link(records, settings=MatchSettings(**thresholds, engine="spark"))
    assert on_duckdb.auto_merged_pairs > 100  # probability, not only ID numbers, decided
    assert on_spark.clusters == on_duckdb.clusters
    assert on_spark.review == on_duckdb.review
    assert on_spark.auto_merged_pairs == on_duckdb.auto_merged_pairs


@pytest.mark.django_db
def test_web_import_matches_on_the_configured_engine(spark, world, settings, engines_used):
    """LINLI_LINK_ENGINE=spark: an import's matching runs on Spark and links as on DuckDB
    (the known ID joins the registry's person, a row without ID joins the household's)."""
    from tests.test_registry_import import HOUSEHOLD_CSV, stage

    settings.LINLI_LINK_ENGINE = "spark"
    before = Person.objects.count()
    batch = pipeline.run_batch(stage(world, HOUSEHOLD_CSV.encode("gb18030"), "户籍.csv"))
    assert batch.status == BatchStatus.COMMITTED, batch.error
    assert engines_used == ["spark"]
    assert Person.objects.count() == before + 2
    assert SourceRecord.objects.get(batch=batch, row_number=1).person_id == world.resident_a.pk
