"""`manage.py load_demo [--scale N] [--seed 2026] [--reset]`: the demo street (see generator)."""

import sys
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext_lazy as _

from linli.core.errors import both_languages
from linli.demo import generator
from linli.demo.factories import PASSWORD


class Command(BaseCommand):
    help = (
        "Loads the demo street 西安市雁塔区小寨路街道 (about 10,000 residents per unit of "
        "scale) and one demo account per role. Does nothing when the demo is already loaded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="1 ≈ 3 communities, 10,000 residents; 10 ≈ 30 communities, 100,000.",
        )
        parser.add_argument("--seed", type=int, default=2026, help="same seed, same people")
        parser.add_argument(
            "--reset",
            action="store_true",
            help="delete the demo street, its screening and accounts first (refused once "
            "a demo account has been used: the audit log is append-only)",
        )

    def handle(self, *args, scale: float, seed: int, reset: bool, **options) -> None:
        try:
            if reset:
                self.stdout.write(both_languages(_("Deleting the demo data…")))
                generator.reset_demo()
            elif generator.demo_exists():
                # `make run` calls this on every start, so an existing demo is not an error.
                self.stdout.write(
                    "Demo data already loaded; nothing to do (use --reset to rebuild). "
                    "/ 演示数据已存在，跳过。"
                )
                return
            summary = generator.generate_demo(seed=seed, scale=scale, progress=self._progress())
        except generator.DemoError as error:
            raise CommandError(str(error)) from error
        self._print_summary(summary)

    def _progress(self) -> generator.ProgressCallback:
        """Returns a callback that rewrites one line on a terminal and logs sparsely otherwise."""
        interactive = self.stdout.isatty()
        last_logged = {"stage": "", "at": 0.0}

        def report(stage: str, done: int, total: int) -> None:
            line = f"  {stage} {done}/{total}"
            finished = done >= total
            if interactive:
                self.stdout.write(f"\r{line}\033[K", ending="\n" if finished else "")
                self.stdout.flush()
                return
            now = time.monotonic()
            if finished or stage != last_logged["stage"] or now - last_logged["at"] > 2:
                self.stdout.write(line)
                last_logged.update(stage=stage, at=now)

        return report

    def _print_summary(self, summary: generator.DemoSummary) -> None:
        write = self.stdout.write
        write(
            self.style.SUCCESS(
                both_languages(
                    _("Demo loaded in %(seconds)s s"), {"seconds": f"{summary.seconds:.1f}"}
                )
            )
        )
        write(
            f"  areas: {summary.communities} communities, {summary.grids} grids, "
            f"{summary.compounds} compounds, {summary.buildings} buildings, "
            f"{summary.units} units, {summary.dwellings} dwellings "
            f"({summary.vacant_dwellings} vacant)"
        )
        residency = ", ".join(f"{k} {v}" for k, v in sorted(summary.residency.items()))
        write(
            f"  households: {summary.households}; residents: {summary.residents} ({residency}); "
            f"without a phone: {summary.without_phone}"
        )
        write("  vulnerable tags: " + ", ".join(f"{k} {v}" for k, v in summary.tags.items()))
        if summary.screening and summary.screening.campaign:
            self._print_screening(summary.screening)
        names = summary.usernames
        shown = names if len(names) <= 20 else [*names[:3], "…", *names[-8:]]
        write(f"  accounts ({len(names)}): {' '.join(shown)}")
        write(
            "  "
            + both_languages(
                _("password for every demo account: %(password)s"), {"password": PASSWORD}
            )
        )
        sys.stdout.flush()

    def _print_screening(self, screening: generator.DemoScreening) -> None:
        write = self.stdout.write
        share = 100 * screening.reached / screening.targets if screening.targets else 0
        write(
            f"  screening (lead1): campaign {screening.campaign!r} running in community 1, "
            f"{screening.reached}/{screening.targets} reached ({share:.0f}%: "
            f"{screening.reached_h5} by H5 link, {screening.reached_door} at the door, "
            f"{screening.proxy} by a family member), {screening.refused} refused"
        )
        write(
            f"    {screening.high_risk} high risk, {screening.follow_up_tasks} follow-up tasks, "
            f"{screening.door_knock_list} on the door-knock lists (grid1…); "
            f"draft {screening.draft!r} ({screening.draft_by})"
        )
