from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "linli.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from linli.accounts.models import AccountAction
        from linli.audit.actions import register_actions

        register_actions(AccountAction)

        from linli.accounts.services import STAFF_IMPORTERS
        from linli.core.navigation import NavEntry, has_role, register_navigation

        register_navigation(
            NavEntry("accounts:staff", _("Staff"), order=96, visible=has_role(*STAFF_IMPORTERS))
        )
