"""How heavy is the door-knock list a phone downloads, on the demo community?

Run from the repository root:

    .venv/bin/python bench/door_knock_weight.py [--scale 1] [--keep DIR]

It builds the demo street (`linli.demo`, the same as `make run`: community 1 runs its daily
symptom campaign with a door-knock list) in a fresh SQLite database under a temporary folder
(or DIR, kept between runs), then, logged in (django.test.Client.force_login) through the full
Django stack, GETs the door-knock page of that campaign:

- as the community lead (`lead1`): the community-wide landing page;
- as a grid worker (`grid1`): their grid's landing page;
- every building's page (the first page of its list) as the lead, and the page of the
  building with the most households left, with each of its pages.

For each it prints the bytes of the HTML, the number of elements in it (start tags, the DOM
elements a browser builds from it) and the households listed. It asserts nothing: the figures
depend on the demo's seed and the templates, and tests/ checks the behaviour.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class _Counter(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements = 0
        self.households = 0

    def handle_starttag(self, tag, attrs) -> None:
        self.elements += 1
        if any(k == "class" and v and "dk-household" in v.split() for k, v in attrs):
            self.households += 1


def weigh(html: bytes) -> tuple[int, int, int]:
    """Returns (bytes, elements, households listed) of a page."""
    counter = _Counter()
    counter.feed(html.decode())
    return len(html), counter.elements, counter.households


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--keep", help="folder of the database, kept between runs")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="linli-dk-weight-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
            "LINLI_VAR_DIR": str(folder),
            "LINLI_ENV": "test",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "LINLI_ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from linli.accounts.models import User
    from linli.demo.generator import DAILY_CAMPAIGN, demo_exists, generate_demo
    from linli.screening.models import Campaign
    from linli.screening.selectors import door_knocks

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    if not demo_exists():
        summary = generate_demo(scale=args.scale)
        print(
            f"demo: {summary.residents} residents, {summary.households} households, "
            f"{summary.buildings} buildings; door-knock list "
            f"{summary.screening.door_knock_list if summary.screening else 0} people "
            f"({time.perf_counter() - started:.0f} s)"
        )
    lead, worker = User.objects.get(username="lead1"), User.objects.get(username="grid1")
    campaign = Campaign.objects.filter(name=DAILY_CAMPAIGN, launched_at__isnull=False).get()
    url = reverse("screening:door_knock", args=[campaign.pk])
    client = Client()

    def get(user, params: dict | None = None) -> tuple[int, int, int]:
        client.force_login(user)
        response = client.get(url, params or {})
        assert response.status_code == 200, (params, response.status_code)
        return weigh(response.content)

    print(f"{'page':58} {'bytes':>9} {'elements':>9} {'households':>10}")

    def line(label: str, figures: tuple[int, int, int]) -> None:
        print(f"{label:58} {figures[0]:>9,} {figures[1]:>9,} {figures[2]:>10}")

    line("lead1: community-wide landing", get(lead))
    line("grid1: grid landing", get(worker))
    area = door_knocks.door_knock_areas(lead, campaign)[0]
    places = door_knocks.door_knock_places(lead, campaign, area).buildings
    buildings = [p for p in places if p.area is not None]
    sizes = [get(lead, {"building": p.area.pk}) for p in buildings]
    heaviest = max(range(len(buildings)), key=lambda i: sizes[i][0])
    busiest = max(buildings, key=lambda p: p.households_left)
    line(
        f"lead1: building pages (first page), median of {len(buildings)}",
        tuple(int(statistics.median(s[i] for s in sizes)) for i in range(3)),
    )
    b = buildings[heaviest]
    line(f"lead1: heaviest building page: {b.compound}{b.area.name}", sizes[heaviest])
    for page in range(1, -(-busiest.households_left // 20) + 1):
        figures = get(lead, {"building": busiest.area.pk, "page": page})
        line(
            f"lead1: {busiest.compound}{busiest.area.name} ({busiest.households_left} left), "
            f"page {page}",
            figures,
        )
    print(f"database: {folder}")


if __name__ == "__main__":
    main()
