from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "linli.registry"
    label = "registry"
    verbose_name = _("Registry")

    def ready(self) -> None:
        from django.core.checks import register

        from linli.audit.actions import register_actions
        from linli.core.navigation import NavEntry, has_role, may_browse_people, register_navigation
        from linli.core.roles import REGISTRY_STEWARDS
        from linli.registry.checks import check_link_engine
        from linli.registry.models import RegistryAction

        register(check_link_engine)
        register_actions(RegistryAction)
        register_navigation(
            NavEntry("registry:areas", _("Areas"), order=10, visible=may_browse_people),
            NavEntry("registry:people", _("Residents"), order=20, visible=may_browse_people),
            NavEntry("registry:households", _("Households"), order=30, visible=may_browse_people),
            NavEntry(
                "registry:imports", _("Imports"), order=70, visible=has_role(*REGISTRY_STEWARDS)
            ),
            NavEntry(
                "registry:reviews",
                _("Review queue"),
                order=80,
                visible=has_role(*REGISTRY_STEWARDS),
            ),
        )
