"""Deletes uploaded department files that were never confirmed (they hold full identifiers)."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from linli.core.errors import both_languages
from linli.registry.services.imports import discard_unconfirmed


class Command(BaseCommand):
    help = "Delete the stored files of uploads not confirmed within --days days (default 3)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=3)

    def handle(self, *args, days: int, **options) -> None:
        count = discard_unconfirmed(older_than=timezone.now() - timedelta(days=days))
        self.stdout.write(
            both_languages(_("discarded %(count)s unconfirmed upload(s)"), {"count": count})
        )
