"""Moves the screening targets that need a worker at the door onto the door-knock lists.

Runs once, or with `--every SECONDS` in a loop until stopped (SIGINT/SIGTERM), beside
`manage.py db_worker`: that is the unattended trigger of escalation, so a deadline passing at
night fills the morning's door-knock lists without anybody watching the dashboard.
"""

import logging
import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections
from django.utils.translation import gettext as _

from linli.screening.services import campaigns as campaign_services

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Put unreached screening targets on the door-knock lists, once or every --every seconds."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--every",
            type=float,
            default=0,
            metavar="SECONDS",
            help="Repeat every SECONDS (at least 1) until stopped; without it, run once.",
        )

    def handle(self, *args, every: float, **options) -> None:
        if every and every < 1:
            raise CommandError("--every 须至少 1 秒 / --every must be at least 1 second")
        self.verbosity = options.get("verbosity", 1)
        if not every:
            self.run_once()
            return
        self.stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop.set())
        while not self.stop.is_set():
            try:
                self.run_once()
            except DatabaseError:
                # The database restarting must not end the loop: the next round retries.
                logger.exception("screening escalation failed; retrying in %s s", every)
            close_old_connections()
            self.wait(every)

    def run_once(self) -> dict[int, int]:
        moved = campaign_services.escalate_running_campaigns()
        if self.verbosity >= 1:
            total = sum(moved.values())
            detail = ", ".join(f"#{pk}: {n}" for pk, n in moved.items())
            self.stdout.write(
                _("%(total)s target(s) put on door-knock lists") % {"total": total}
                + (f" ({detail})" if detail else "")
            )
        return moved

    def wait(self, seconds: float) -> None:
        self.stop.wait(seconds)
