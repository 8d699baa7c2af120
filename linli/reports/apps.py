from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "linli.reports"
    label = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        from linli.core.navigation import NavEntry, register_navigation

        register_navigation(NavEntry("reports:home", _("Home"), order=0))
