"""How fast are the resident list and its searches at 100,000 residents on PostgreSQL?

Run from the repository root:

    .venv/bin/python bench/people_list.py [--repeat 30] [--warmup 3] [--scale 10]

It uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/linli_bench), creates that
database if it is missing (connecting to the `postgres` database), migrates it, and loads the
demo street at --scale 10 (~100,000 residents) unless the demo is already there; the first run
therefore takes a minute or two longer than the next ones.

Then, logged in (django.test.Client.force_login) as a community lead (`lead1`, one community)
and as a street officer (`street`, the whole street), it requests each case of
GET /registry/people/ through the full Django stack (middleware, session, form, selector,
paginator count, tag prefetch, template) and, as the baseline measured in the same run, runs
the bare SQL SELECT of the same page of rows: the selector's own query (same WHERE, ORDER BY
id, LIMIT/OFFSET) compiled once and executed on a raw cursor. Each figure is the median of
--repeat timings after --warmup untimed ones. It prints a table (case, page ms, bare ms,
ratio) and asserts nothing about timings: figures depend on the machine.
"""

import argparse
import os
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures import ensure_database, setup_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/linli_bench"
USERS = ("lead1", "street")


def client_env(url: str) -> dict[str, str]:
    """The environment of the run: the database at `url`, test settings unless the caller's
    environment says otherwise."""
    return {
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
        "LINLI_ENV": os.environ.get("LINLI_ENV", "test"),
        # django.test.Client sends Host: testserver.
        "LINLI_ALLOWED_HOSTS": os.environ.get(
            "LINLI_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1"
        ),
    }


def pad(text: str, width: int) -> str:
    """Returns text padded to `width` terminal columns (a Chinese character takes two)."""
    columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - columns)


def median_ms(action: Callable[[], object], *, repeat: int, warmup: int) -> float:
    """Returns the median wall time of `action` in milliseconds, after untimed warm-up runs."""
    for _ in range(warmup):
        action()
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def fetch_page(client, params: dict) -> None:
    """Requests one resident-list page; a non-200 answer ends the run: it would be no figure."""
    response = client.get("/registry/people/", params)
    if response.status_code != 200:
        raise SystemExit(f"/registry/people/?{params}: HTTP {response.status_code}")


def fetch_rows(connection, sql: str, params: tuple) -> None:
    """Runs the page's SELECT on a raw cursor and reads every row, as the page would."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--scale", type=float, default=10, help="demo scale if it must load")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/people_list.py measures PostgreSQL: set DATABASE_URL to a postgres:// URL")
    ensure_database(url)
    setup_django(client_env(url))

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from linli.accounts.models import User
    from linli.demo.factories import COMPOUND_SURNAMES
    from linli.demo.generator import demo_exists
    from linli.registry import selectors
    from linli.registry.models import Person

    call_command("migrate", verbosity=0)
    if not demo_exists():
        print(f"loading the demo at scale {args.scale:g} (once per database)…")
        call_command("load_demo", scale=args.scale)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh bulk-loaded tables have no statistics yet

    page_size = settings.LINLI_PAGE_SIZE
    # The most frequent surname + first given character (like "王建"), so the name search
    # returns a few pages, as a real search for a half-remembered name does.
    name_counts: Counter[str] = Counter(
        name[:2]
        for name in Person.objects.values_list("name", flat=True).iterator(chunk_size=5000)
        if name[:2] not in COMPOUND_SURNAMES
    )
    name_query = min(name_counts, key=lambda start: (-name_counts[start], start))

    cases = [
        ("first page", {}, selectors.PersonFilters(), 1),
        ("page 50", {"page": "50"}, selectors.PersonFilters(), 50),
        (f"name q={name_query}", {"q": name_query}, selectors.PersonFilters(q=name_query), 1),
        ("phone tail 1234", {"phone": "1234"}, selectors.PersonFilters(phone="1234"), 1),
        ("tag dialysis", {"tag": "dialysis"}, selectors.PersonFilters(tag="dialysis"), 1),
    ]

    residents = Person.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(
        f"PostgreSQL {version}; {residents} residents; median of {args.repeat} after "
        f"{args.warmup} warm-up; page = GET through Django, bare = the page's SELECT alone"
    )
    header = f"{'case':<22} {'user':<7} {'matches':>8} {'page ms':>9} {'bare ms':>9} {'ratio':>7}"
    print(header)
    print("-" * len(header))

    for username in USERS:
        user = User.objects.get(username=username)
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        for label, params, filters, page_number in cases:
            people = selectors.people_for(user, filters)
            matches = people.count()
            # Django's paginator clamps a page past the end to the last one; so does the SQL.
            pages = max(1, -(-matches // page_size))
            offset = (min(page_number, pages) - 1) * page_size
            # The selector's query without the tag prefetch, compiled once: the same WHERE,
            # ORDER BY id and LIMIT/OFFSET that the page runs for its rows.
            bare_sql, bare_params = people[offset : offset + page_size].query.sql_with_params()

            page_ms = median_ms(
                partial(fetch_page, client, params), repeat=args.repeat, warmup=args.warmup
            )
            bare_ms = median_ms(
                partial(fetch_rows, connection, bare_sql, bare_params),
                repeat=args.repeat,
                warmup=args.warmup,
            )
            ratio = page_ms / bare_ms if bare_ms else float("inf")
            print(
                f"{pad(label, 22)} {username:<7} {matches:>8} {page_ms:>9.1f} {bare_ms:>9.2f} "
                f"{ratio:>6.1f}x"
            )


if __name__ == "__main__":
    main()
