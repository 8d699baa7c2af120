from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "linli.audit"
    label = "audit"
    verbose_name = _("Audit")

    def ready(self) -> None:
        from linli.audit import receivers  # noqa: F401  (log-in and log-out events)
        from linli.audit.actions import register_actions
        from linli.audit.models import AuditAction
        from linli.core.navigation import NavEntry, register_navigation
        from linli.core.roles import policy_for

        register_actions(AuditAction)
        register_navigation(
            NavEntry(
                "audit:events",
                _("Audit log"),
                order=90,
                visible=lambda user: policy_for(user).may_read_audit_log,
            )
        )
