from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "linli.audit"
    label = "audit"
    verbose_name = _("Audit")

    def ready(self) -> None:
        from linli.audit import receivers  # noqa: F401  (log-in and log-out events)
