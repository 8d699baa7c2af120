"""Sends the work orders' due escalation steps (services.escalation.sweep_escalations).

Runs once, or with `--every SECONDS` in a loop until stopped (SIGINT/SIGTERM), beside
`manage.py db_worker`; `make serve` runs it every 30 s, so a step is sent at most 30 s (plus
a sweep) after it falls due. `linli escalate` is the same command.
"""

import logging
import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections
from django.utils.translation import gettext as _

from linli.workorders.services.escalation import SweepResult, sweep_escalations

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Send the work orders' due escalation steps, once or every --every seconds."

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
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.is_set():
            try:
                self.run_once()
            except DatabaseError:
                # A database restart must not end the loop: the next round retries, and the
                # notices' unique key keeps it from sending anything twice.
                logger.exception("work-order escalation failed; retrying in %s s", every)
            close_old_connections()
            stop.wait(every)

    def run_once(self) -> SweepResult:
        result = sweep_escalations()
        if self.verbosity >= 1:
            self.stdout.write(
                _("%(notices)s escalation step(s) sent for %(orders)s work order(s)")
                % {"notices": result.notices, "orders": result.orders}
            )
        return result
