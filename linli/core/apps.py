from django.apps import AppConfig
from django.core.management import call_command
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "linli.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from linli.core import checks  # noqa: F401  (registers system checks)

        # The cache holds guards every process must see (one send run per campaign), so it
        # lives in the database; whoever migrates gets its table, nobody has to remember it.
        # Not sender=self: post_migrate is sent only for apps with models, and core has none,
        # so it never fired (found by `linli check-deploy` on a freshly migrated database).
        # createcachetable does nothing when the table exists.
        post_migrate.connect(create_cache_table, dispatch_uid="linli.core.create_cache_table")


def create_cache_table(using: str = "default", **kwargs: object) -> None:
    call_command("createcachetable", database=using, verbosity=0)
