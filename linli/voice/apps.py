from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VoiceConfig(AppConfig):
    """The phone robot (智能外呼): a channel of the screening campaigns that speaks."""

    name = "linli.voice"
    label = "voice"
    verbose_name = _("Phone robot")

    def ready(self) -> None:
        from linli.audit.actions import register_actions
        from linli.screening.channels import register
        from linli.voice.channels import RobotPhoneChannel
        from linli.voice.models import VoiceAction

        register(RobotPhoneChannel())
        register_actions(VoiceAction)
