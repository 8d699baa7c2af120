from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AreasConfig(AppConfig):
    name = "linli.areas"
    label = "areas"
    verbose_name = _("Areas")

    def ready(self) -> None:
        from linli.areas.models import AreaAction
        from linli.audit.actions import register_actions

        register_actions(AreaAction)

        from linli.areas.services import TREE_IMPORTERS
        from linli.core.navigation import NavEntry, has_role, register_navigation

        register_navigation(
            NavEntry("areas:import", _("Load areas"), order=95, visible=has_role(*TREE_IMPORTERS))
        )
