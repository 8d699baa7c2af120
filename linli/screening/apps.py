from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScreeningConfig(AppConfig):
    name = "linli.screening"
    label = "screening"
    verbose_name = _("Screening")

    def ready(self) -> None:
        # The person's file (a registry page) shows their screening flags and statuses; the
        # registry cannot import screening, so screening hands it a section provider.
        from linli.audit.actions import register_actions
        from linli.core.navigation import NavEntry, may_browse_people, register_navigation
        from linli.registry.sections import register_person_section
        from linli.screening.models import ScreeningAction
        from linli.screening.views.tasks import person_screening_section

        register_person_section("screening", person_screening_section)
        register_actions(ScreeningAction)
        register_navigation(
            NavEntry("screening:campaigns", _("Screening"), order=40, visible=may_browse_people),
            NavEntry("screening:tasks", _("Follow-ups"), order=50, visible=may_browse_people),
        )
