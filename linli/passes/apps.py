from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PassesConfig(AppConfig):
    name = "linli.passes"
    label = "passes"
    verbose_name = _("Passes")

    def ready(self) -> None:
        from linli.audit.actions import register_actions
        from linli.core.navigation import NavEntry, has_role, register_navigation
        from linli.passes.models import PassAction
        from linli.passes.roles import PASS_READERS

        register_actions(PassAction)
        register_navigation(
            NavEntry("passes:passes", _("Passes"), order=60, visible=has_role(*PASS_READERS)),
        )
