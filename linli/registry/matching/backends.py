"""Where link()'s SQL runs: DuckDB inside the process, or Spark (local mode or a cluster).

The model is one (engine.py: comparisons, blocking rules, training); only the database under
it changes. Both backends run the very same SQL text, so it sticks to what DuckDB and Spark
SQL both read: no DuckDB-only functions (histogram, hash), no unordered window numbering,
doubles cast explicitly (Spark reads 15000.0 as a decimal). The Chinese-aware features
(toneless pinyin, surname and given-name sounds, dwelling keys) are computed in Python before
any SQL sees a record (engine._features): no user-defined function has to exist on a Spark
executor, and levenshtein, left and length are built into both databases.

Spark: the session already running in the process is used (the tests' fixture, `spark-submit`,
a notebook); otherwise one is started with `MatchSettings.spark_master` ("local[2]", or a
cluster's master URL; everything else comes from Spark's own spark-defaults.conf). Every link
runs in a session of its own over that context, so its temporary views never meet another's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

ENGINES = ("duckdb", "spark")


class Backend(Protocol):
    """A database link() can load its tables into, query, and hand to Splink."""

    name: str
    splink_api: Any  # splink's DuckDBAPI or SparkAPI over the same tables

    def load(self, table: str, data: Any) -> None:
        """Creates `table` from a pyarrow Table."""

    def create(self, table: str, select: str) -> None:
        """Creates (materialises) `table` as the result of `select`."""

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        """Returns the result of `query` as tuples."""


class DuckDBBackend:
    name = "duckdb"

    def __init__(self, threads: int) -> None:
        import duckdb
        from splink import DuckDBAPI

        self.connection = duckdb.connect(":memory:", config={"threads": int(threads)})
        self.splink_api = DuckDBAPI(connection=self.connection)

    def load(self, table: str, data: Any) -> None:
        self.connection.register(f"{table}_arrow", data)
        self.connection.sql(f"CREATE TABLE {table} AS SELECT * FROM {table}_arrow")  # noqa: S608
        self.connection.unregister(f"{table}_arrow")

    def create(self, table: str, select: str) -> None:
        self.connection.sql(f"CREATE TABLE {table} AS {select}")

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        return self.connection.sql(query).fetchall()

    def close(self) -> None:
        self.connection.close()


def spark_session(master: str = "", threads: int = 2) -> Any:
    """Returns the process's Spark session, starting one when there is none.

    Splink's similarity jar goes on the classpath (its jaro_winkler and friends; this model
    needs none of them, but a session shared with other Splink work should have them). A
    local session gets two shuffle partitions per thread: Spark's default of 200 turns a
    community's few thousand rows into hundreds of empty tasks.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    from splink.backends.spark import similarity_jar_location

    builder = (
        SparkSession.builder.appName("linli-link")
        .config("spark.jars", similarity_jar_location())
        # The progress bars would fill an import worker's log.
        .config("spark.ui.showConsoleProgress", "false")
    )
    if master:
        builder = builder.master(master)
    if master.startswith("local"):
        builder = (
            builder.config("spark.sql.shuffle.partitions", str(max(int(threads), 1) * 2))
            .config("spark.ui.enabled", "false")
            # On one machine's data a query's cost is its planning, not its rows: compiling
            # Java for each of Splink's long CASE expressions and re-planning after every
            # shuffle took two thirds of a link (900 rows with training: 59–96 s with both,
            # 19–33 s without, on the shared 2-core machine). A cluster keeps both.
            .config("spark.sql.codegen.wholeStage", "false")
            .config("spark.sql.adaptive.enabled", "false")
        )
    return builder.getOrCreate()


class SparkBackend:
    name = "spark"

    def __init__(self, master: str, threads: int) -> None:
        from splink.backends.spark import SparkAPI

        # A session of its own (same context, same executors): its own temporary views.
        self.spark = spark_session(master, threads).newSession()
        partitions = int(self.spark.conf.get("spark.sql.shuffle.partitions") or 200)
        self.splink_api = SparkAPI(
            spark_session=self.spark,
            # Intermediate tables stay in the executors' memory (spilling to their disks):
            # "parquet", Splink's default, needs a checkpoint directory every executor can
            # reach and writes each table out; a cluster that wants it sets it here.
            break_lineage_method="persist",
            num_partitions_on_repartition=max(partitions // 2, 1),
            # Needs the jar on the classpath, as spark_session() puts it; a cluster whose
            # session came from elsewhere may not have it, and this model does not use it.
            register_udfs_automatically=False,
        )

    def load(self, table: str, data: Any) -> None:
        frame = self.spark.createDataFrame(data)
        frame.persist()
        frame.createOrReplaceTempView(table)

    def create(self, table: str, select: str) -> None:
        frame = self.spark.sql(select)
        frame.persist()
        frame.createOrReplaceTempView(table)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.spark.sql(query).collect()]

    def close(self) -> None:
        # Frees what this link cached, its own tables and Splink's: a worker process links
        # batch after batch (one at a time) in one Spark context. The views go with the session.
        self.spark.catalog.clearCache()


@contextmanager
def open_backend(engine: str, *, threads: int, spark_master: str = "") -> Iterator[Any]:
    """Yields a fresh backend of `engine` ("duckdb" or "spark"), closed afterwards."""
    if engine == "duckdb":
        backend: DuckDBBackend | SparkBackend = DuckDBBackend(threads)
    elif engine == "spark":
        try:
            backend = SparkBackend(spark_master, threads)
        except ImportError as error:
            raise RuntimeError(
                "matching on Spark needs pyspark and Java 17: pip install -e '.[spark]'"
            ) from error
    else:
        raise ValueError(f"unknown matching engine {engine!r}; one of {', '.join(ENGINES)}")
    try:
        yield backend
    finally:
        backend.close()
