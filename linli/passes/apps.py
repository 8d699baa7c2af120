from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PassesConfig(AppConfig):
    name = "linli.passes"
    label = "passes"
    verbose_name = _("Passes")

    def ready(self) -> None:
        from linli.audit.actions import register_actions
        from linli.passes.models import PassAction

        register_actions(PassAction)
