"""How long does one escalation sweep take with 100,000 open work orders on PostgreSQL, and
how many queries does it run?

Run from the repository root:

    .venv/bin/python bench/workorders.py [--orders 100000] [--repeat 5]

It uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/linli_bench_workorders),
creates the database if missing, migrates it, and, unless it already holds them, builds a
street of 5 communities × 4 grids with their staff (a grid worker per grid, a lead per
community, a street and a district officer) and --orders open work orders in its grids: 2% P0,
28% P1, 70% P2; 40% waiting to be accepted (their ladders started up to 2 hours ago), the rest
accepted or in progress. Orders are bulk-inserted (the figure is the sweep, not the raise).

Then, for K orders due now (0, 1, 100, 1,000, 5,000: the K waiting orders whose
next_escalation_at is set to a second ago, inside a transaction rolled back after each run,
so every run sees the same data), it times `sweep_escalations(now=..., deliver=False)` (the
sends are the adapters' business) and counts its queries, and, as the baseline measured in
the same run, the bare SELECT of the due orders. Each figure is the median of --repeat runs.
It prints the table and asserts nothing about timings.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures import ensure_database, setup_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/linli_bench_workorders"
DUE_CASES = (0, 1, 100, 1000, 5000)


def build_world(n_orders: int, rng: random.Random) -> None:
    from django.utils import timezone

    from linli.areas.models import AreaLevel
    from linli.areas.services import create_area
    from linli.core.roles import Role
    from linli.demo import factories as f
    from linli.workorders.models import Priority, WorkOrder, WorkOrderState
    from linli.workorders.services.service_levels import DEFAULT_LEVELS

    _city, district, street = f.make_admin_chain()
    f.make_staff(username="street", role=Role.STREET_OFFICER, areas=[street])
    f.make_staff(username="district", role=Role.DISTRICT_OFFICER, areas=[district])
    grids = []
    for c in range(5):
        community = create_area(
            parent=street, level=AreaLevel.COMMUNITY, name=f"社区{c + 1}", code=f"61011300110{c}"
        )
        f.make_staff(username=f"lead{c + 1}", role=Role.COMMUNITY_LEAD, areas=[community])
        for g in range(4):
            grid = create_area(parent=community, level=AreaLevel.GRID, name=f"第{g + 1}网格")
            f.make_staff(username=f"grid{c + 1}_{g + 1}", role=Role.GRID_WORKER, areas=[grid])
            grids.append(grid)
    now = timezone.now()
    batch: list[WorkOrder] = []
    for i in range(n_orders):
        grid = grids[i % len(grids)]
        roll = rng.random()
        priority = Priority.P0 if roll < 0.02 else Priority.P1 if roll < 0.30 else Priority.P2
        level = DEFAULT_LEVELS[priority]
        created = now - timedelta(minutes=rng.uniform(0, 120))
        waiting = rng.random() < 0.4
        plan = level.plan()
        # When a waiting order next has something to send: its next ladder step or repeat,
        # somewhere in the coming hour (none is due at the start of a run).
        # An accepted order's ladder waits for its done deadline.
        done_by = created + level.done_within
        upcoming = now + timedelta(seconds=rng.uniform(60, 3600)) if waiting else done_by
        started = created if waiting else done_by
        batch.append(
            WorkOrder(
                kind="general",
                area=grid,
                area_path=grid.path,
                raised_via="web",
                text="需要送药",
                priority=priority,
                state=WorkOrderState.DISPATCHED if waiting else WorkOrderState.IN_PROGRESS,
                accept_by=created + level.accept_within,
                done_by=done_by,
                cycle=1,
                escalation_plan=plan,
                escalation_started_at=started,
                next_escalation_at=upcoming,
                created_at=created,
                updated_at=created,
            )
        )
        if len(batch) == 5000:
            WorkOrder.objects.bulk_create(batch)
            batch = []
    WorkOrder.objects.bulk_create(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/workorders.py measures PostgreSQL: set DATABASE_URL to a postgres:// URL")
    ensure_database(url)
    setup_django(
        {
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "LINLI_ENV": os.environ.get("LINLI_ENV", "test"),
        }
    )
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from linli.workorders.models import AWAITING_ACCEPT, WorkOrder
    from linli.workorders.services.escalation import sweep_escalations

    call_command("migrate", verbosity=0)
    if not WorkOrder.objects.exists():
        print(f"building {args.orders} open work orders (once per database)…")
        started = time.perf_counter()
        build_world(args.orders, random.Random(15))
        print(f"  built in {time.perf_counter() - started:.0f} s")
    with connection.cursor() as cursor:
        # Nothing is due when a run starts, whenever the orders were built: every waiting
        # order's next step falls 10 to 70 minutes from now.
        cursor.execute(
            "UPDATE workorders_workorder SET next_escalation_at = now() + interval '10 minutes'"
            " + (id % 3600) * interval '1 second' WHERE next_escalation_at IS NOT NULL"
        )
        cursor.execute("ANALYZE")
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    open_orders = WorkOrder.objects.open().count()
    waiting = list(
        WorkOrder.objects.filter(state__in=AWAITING_ACCEPT, next_escalation_at__isnull=False)
        .order_by("id")
        .values_list("id", flat=True)[: max(DUE_CASES)]
    )
    print(
        f"PostgreSQL {version}; {open_orders} open work orders ({len(waiting)} waiting ones "
        f"made due below); median of {args.repeat}; sweep = sweep_escalations(deliver=False), "
        "bare = the SELECT of the due orders alone"
    )
    header = f"{'due':>6} {'sweep ms':>9} {'queries':>8} {'notices':>8} {'bare ms':>8} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for due in DUE_CASES:
        timings, bare, queries, notices = [], [], 0, 0
        for _ in range(args.repeat):
            with transaction.atomic():
                now = timezone.now()
                WorkOrder.objects.filter(pk__in=waiting[:due]).update(
                    next_escalation_at=now - timedelta(seconds=1)
                )
                due_sql, due_params = (
                    WorkOrder.objects.filter(
                        next_escalation_at__lte=now,
                        state__in=AWAITING_ACCEPT,
                        acknowledged_at__isnull=True,
                    )
                    .order_by("next_escalation_at", "id")[:1000]
                    .query.sql_with_params()
                )
                started = time.perf_counter()
                with connection.cursor() as cursor:
                    cursor.execute(due_sql, due_params)
                    cursor.fetchall()
                bare.append((time.perf_counter() - started) * 1000)
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    result = sweep_escalations(now=now, deliver=False)
                    timings.append((time.perf_counter() - started) * 1000)
                queries, notices = len(captured), result.notices
                transaction.set_rollback(True)
        sweep_ms, bare_ms = statistics.median(timings), statistics.median(bare)
        ratio = sweep_ms / bare_ms if bare_ms else float("inf")
        print(f"{due:>6} {sweep_ms:>9.1f} {queries:>8} {notices:>8} {bare_ms:>8.2f} {ratio:>6.1f}x")


if __name__ == "__main__":
    main()
