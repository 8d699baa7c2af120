from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkordersConfig(AppConfig):
    name = "linli.workorders"
    label = "workorders"
    verbose_name = _("Work orders")

    def ready(self) -> None:
        from linli.audit.actions import register_actions
        from linli.workorders.models import WorkOrderAction

        register_actions(WorkOrderAction)
