from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AdaptersConfig(AppConfig):
    """Adapters to the outside world, one package per kind (SMS, telephony, media, TTS, ASR);
    installed only for their system checks."""

    name = "linli.adapters"
    label = "adapters"
    verbose_name = _("Adapters")

    def ready(self) -> None:
        from django.core import checks

        from linli.adapters.asr.checks import check_asr_settings
        from linli.adapters.sms.checks import check_sms_settings
        from linli.adapters.tts.checks import check_tts_settings
        from linli.adapters.webhooks.checks import check_webhook_settings

        checks.register(check_sms_settings)
        checks.register(check_tts_settings)
        checks.register(check_asr_settings)
        checks.register(check_webhook_settings)
