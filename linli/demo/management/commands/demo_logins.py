"""Prints where to log in and the demo accounts, one per role."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext_lazy as _

from linli.accounts.models import User
from linli.core.errors import both_languages
from linli.core.roles import Role
from linli.demo.factories import PASSWORD

ALL_AREAS = _("all areas")
ADMINISTRATOR = _("administrator")


class Command(BaseCommand):
    help = "Print the log-in address and the demo accounts (one per role)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args, url: str, **options) -> None:
        users = User.objects.filter(is_active=True).prefetch_related("areas").order_by("id")
        shown: set[str] = set()
        lines = []
        for user in users:
            key = user.role or ("admin" if user.is_superuser else "")
            if not key or key in shown:
                continue
            shown.add(key)
            areas = "、".join(a.name for a in user.areas.all()) or both_languages(ALL_AREAS)
            label = both_languages(Role(user.role).label if user.role else ADMINISTRATOR)
            lines.append(f"  {user.username:<10} {label:<22} {areas}")
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Linli (邻里) is starting at {url}"))
        self.stdout.write(
            f"Log in at {url}accounts/login/  — password for every demo account: {PASSWORD}"
        )
        self.stdout.write("\n".join(lines))
        self.stdout.write("")
