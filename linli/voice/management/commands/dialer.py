"""`linli dialer`: the phone robot's dialer process (linli.voice.dialer).

Runs until SIGTERM or SIGINT, printing a progress line every
--progress seconds: calls in progress, calls finished in the last minute, answered. --once
drains the jobs due now and exits. --line picks lines by name (default: every enabled line);
--simulated places every call through the simulated carrier whatever the lines' kind, and
creates a simulated line when none exists (a demo without a telephone network).
--virtual-time (with --simulated) runs the simulation on a virtual clock from now, or from
the local time given: time jumps to the next event instead of passing, so a day of calls
takes seconds (database work then runs on the command's own thread).

On the first SIGTERM or SIGINT it stops claiming calls, gives back the calls not placed yet,
lets the calls in progress finish for --stop-grace seconds (0.5 by default), then hangs up
and records the rest as interrupted with the answers given so far, and exits: about a second
in all. Signals after the first are ignored: `make serve`
stops its whole process group, which can signal it many times.
"""

import asyncio
import atexit
import gc
import signal
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.adapters.telephony.simulated import SimulatedCarrier
from linli.voice.dialer import Clock, Dialer, VirtualClock, default_carrier, inline_db, thread_db
from linli.voice.models import SIMULATED_LINE_NAME, CarrierKind, Line


class Command(BaseCommand):
    help = "Run the phone robot's dialer until stopped (SIGTERM), or --once over the due calls."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--line", action="append", default=[], help="Line name (repeatable)")
        parser.add_argument("--once", action="store_true", help="Drain the due calls and exit.")
        parser.add_argument(
            "--simulated", action="store_true", help="Call through the simulated carrier."
        )
        parser.add_argument("--progress", type=float, default=5.0, metavar="SECONDS")
        parser.add_argument(
            "--stop-grace",
            type=float,
            # Short: a stop must take seconds (a supervisor restarting us waits for it); the
            # calls hung up are recorded as interrupted and retried, nobody's retries used.
            default=0.5,
            metavar="SECONDS",
            help="On SIGTERM/SIGINT, how long calls in progress may go on before they are hung up.",
        )
        parser.add_argument(
            "--virtual-time",
            nargs="?",
            const="now",
            default=None,
            metavar="START",
            help="With --simulated: a virtual clock from now or START (local YYYY-MM-DDTHH:MM).",
        )

    def handle(self, *args, line: list[str], once: bool, simulated: bool, **options) -> None:
        # The interpreter's last garbage collection over a whole Django app's objects takes
        # seconds at exit; everything is written by then, so skip it and stop promptly.
        atexit.register(gc.freeze)
        clock, db = self._clock(options["virtual_time"], simulated)
        lines = self._lines(line, simulated)

        def carrier_for(row: Line):
            if simulated:
                return SimulatedCarrier.from_settings(row.settings or {})
            return default_carrier(row)

        dialer = Dialer(
            lines=lines,
            carrier_for_line=carrier_for,
            clock=clock,
            db=db,
            stop_grace=options["stop_grace"],
        )
        names = ", ".join(f"{row.name} ({row.carrier})" for row in lines)
        self.stdout.write(f"dialer {dialer.owner} on {names}")
        try:
            clock.run(self._run(dialer, once, options["progress"]))
        finally:
            if isinstance(clock, VirtualClock):
                clock.close()

    def _clock(self, virtual: str | None, simulated: bool) -> tuple[Clock, object]:
        if virtual is None:
            return Clock(), thread_db
        if not simulated:
            raise CommandError(_("--virtual-time needs --simulated."))
        if virtual == "now":
            return VirtualClock(timezone.now()), inline_db
        try:
            start = datetime.fromisoformat(virtual)
        except ValueError:
            raise CommandError(
                _("--virtual-time: not a date and time: %(value)s") % {"value": repr(virtual)}
            ) from None
        return VirtualClock(start), inline_db

    def _lines(self, names: list[str], simulated: bool) -> list[Line]:
        rows = Line.objects.filter(enabled=True)
        if names:
            rows = rows.filter(name__in=names)
        lines = list(rows.order_by("name"))
        missing = set(names) - {row.name for row in lines}
        if missing:
            raise CommandError(
                _("No enabled line named %(names)s.") % {"names": ", ".join(sorted(missing))}
            )
        if not lines and simulated:
            lines = [
                Line.objects.get_or_create(
                    name=SIMULATED_LINE_NAME,
                    defaults={"carrier": CarrierKind.SIMULATED, "max_concurrent": 30},
                )[0]
            ]
        if not lines:
            raise CommandError(_("No enabled line (add one, or use --simulated)."))
        return lines

    async def _run(self, dialer: Dialer, once: bool, every: float) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)

        def on_signal() -> None:
            # Once is enough: a storm of further signals would only fill the loop's wakeup
            # pipe (each one a BlockingIOError traceback) while the calls are closed.
            for sig in signals:
                loop.remove_signal_handler(sig)
                signal.signal(sig, signal.SIG_IGN)
            if not stop.is_set():
                self.stdout.write("stopping: calls in progress are finished or hung up")
                stop.set()

        for sig in signals:
            loop.add_signal_handler(sig, on_signal)
        run = asyncio.create_task(dialer.run(stop=stop, once=once))
        while not run.done():
            await asyncio.wait({run}, timeout=every)
            self.stdout.write(dialer.stats.line(dialer.clock.monotonic()))
        stats = run.result()
        self.stdout.write(f"stopped: {stats.line(dialer.clock.monotonic())}")
