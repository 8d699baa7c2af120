"""Loading a district's area tree from its go-live file, and loading it again.

Run from the repository root (needs PostgreSQL at 127.0.0.1:5432, user postgres):

    .venv/bin/python bench/areas.py [--dwellings 500000] [--database linli_bench_areas]

1. Drops and recreates --database, migrates it with production settings (bench/fixtures.py).
2. Writes a district's file as the template lays it out (CSV, UTF-8): the 行政区划 rows (a city,
   a district, 5 streets, 30 communities each) and the 网格小区楼栋 rows (3 grids a community,
   2 compounds a grid, buildings of 2 units, each unit a range of 18 floors × 2 rooms), enough
   units for --dwellings dwellings. Two files, since a CSV holds one sheet.
3. Times reading + planning + writing (linli.areas.services.import_area_tree, as
   `linli areas import` does), then the same again, counting the INSERT/UPDATE/DELETE
   statements of the second run (aim: none). Aim for the first: ≤ 60 s for 500,000 dwellings
   on 2 cores.
"""

import argparse
import csv
import io
import math
import sys
import tempfile
import time
from pathlib import Path

import fixtures

FLOORS, ROOMS, UNITS = 18, 2, 2


def files(dwellings: int) -> tuple[bytes, bytes]:
    admin, lower = io.StringIO(), io.StringIO()
    a, b = csv.writer(admin), csv.writer(lower)
    a.writerow(["统计用区划代码", "名称"])
    b.writerow(["社区代码", "网格", "小区", "小区别名", "楼栋", "单元", "户", "楼层", "每层室号"])
    a.writerows([["610100000000", "西安市"], ["610113000000", "雁塔区"]])
    communities = [(f"610113{s:03d}{c:03d}", s, c) for s in range(1, 6) for c in range(1, 31)]
    for s in range(1, 6):
        a.writerow([f"610113{s:03d}000", f"第{s}街道"])
    for code, s, c in communities:
        a.writerow([code, f"第{s}街道第{c}社区居委会"])
    units = math.ceil(dwellings / (FLOORS * ROOMS))
    compounds = [(code, g, k) for code, _s, _c in communities for g in (1, 2, 3) for k in (1, 2)]
    per_compound = math.ceil(units / UNITS / len(compounds))
    made = 0
    for code, g, k in compounds:
        b.writerow([code, f"第{g}网格", f"小区{g}-{k}", f"别名{g}-{k}"])
        for building in range(1, per_compound + 1):
            for unit in range(1, UNITS + 1):
                if made >= units:
                    break
                row = [code, f"第{g}网格", f"小区{g}-{k}", "", f"{building}号楼", f"{unit}单元", ""]
                b.writerow([*row, f"1-{FLOORS}", f"01-{ROOMS:02d}"])
                made += 1
    return admin.getvalue().encode(), lower.getvalue().encode()


def run(admin: bytes, lower: bytes) -> tuple[float, dict[str, int], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from linli.areas import services
    from linli.areas.importing.plan import plan_import
    from linli.core.sheets import read_sheets

    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        sheets = read_sheets(admin, "行政区划.csv") + read_sheets(lower, "网格小区楼栋.csv")
        plan = plan_import(sheets, by=None)
        assert not plan.errors, plan.errors[:5]
        counts = services.import_area_tree(plan=plan, file_name="district.csv", by=None)
    writes = sum(
        1
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    )
    return time.perf_counter() - started, counts, writes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dwellings", type=int, default=500_000)
    parser.add_argument("--database", default="linli_bench_areas")
    args = parser.parse_args()
    started = time.perf_counter()
    url = fixtures.fresh_database(args.database)
    with tempfile.TemporaryDirectory() as var_dir:
        fixtures.migrate_production(url, Path(var_dir), started)
        admin, lower = files(args.dwellings)
        print(f"  file: {len(lower.splitlines()) - 1} rows below the community")
        seconds, counts, _writes = run(admin, lower)
        from linli.areas.models import Area

        dwellings = Area.objects.filter(level="dwelling").count()
        print(f"first import: {seconds:.1f} s, {dwellings} dwellings, {counts}")
        seconds, counts, writes = run(admin, lower)
        print(f"re-import: {seconds:.1f} s, {counts}, {writes} writing statements")
        ok = dwellings >= args.dwellings and writes == 0 and counts["created"] == 0
        print("PASS" if ok else "FAIL")
        if not ok:
            sys.exit(1)


if __name__ == "__main__":
    main()
