from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkordersConfig(AppConfig):
    name = "linli.workorders"
    label = "workorders"
    verbose_name = _("Work orders")

    def ready(self) -> None:
        from linli.audit.actions import register_actions
        from linli.core.navigation import NavEntry, register_navigation
        from linli.workorders.models import WorkOrderAction
        from linli.workorders.selectors import may_use_work_orders, unread_count

        register_actions(WorkOrderAction)
        register_navigation(
            NavEntry("workorders:mine", _("Work orders"), order=45, visible=may_use_work_orders),
            # The bell: unread escalations, on every page.
            NavEntry(
                "workorders:notifications",
                _("Notifications"),
                order=90,
                visible=may_use_work_orders,
                badge=unread_count,
            ),
        )
