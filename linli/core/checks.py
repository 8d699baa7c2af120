"""System checks that refuse a bad production configuration or an unclassified field."""

import os
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import Error, Tags, register

from linli.core.proxies import trusted_networks


@register(Tags.security, deploy=False)
def production_settings(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Error]:
    """Returns an error for each production setting that would leak or lose data."""
    if settings.LINLI_ENV != "production":
        return []
    errors: list[Error] = []
    for name in ("LINLI_SECRET_KEY", "LINLI_DATA_KEY", "LINLI_HASH_KEY"):
        if not os.environ.get(name):
            errors.append(
                Error(
                    f"{name} must be set in production (keys in ./var are for embedded use).",
                    id="linli.E010",
                )
            )
    if settings.DEBUG:
        errors.append(Error("LINLI_DEBUG must be off in production.", id="linli.E011"))
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        errors.append(Error("Production runs on PostgreSQL (DATABASE_URL).", id="linli.E012"))
    if not getattr(settings, "LINLI_PUBLIC_URL", ""):
        # Elsewhere links follow the request that starts a send; behind a proxy that address
        # may be an internal one a resident's phone cannot open.
        errors.append(
            Error(
                "LINLI_PUBLIC_URL must be set in production (the address residents' phones "
                "open the H5 links on).",
                id="linli.E014",
            )
        )
    return errors


@register(Tags.security)
def trusted_proxies_readable(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Error]:
    """Returns an error when LINLI_TRUSTED_PROXIES holds something that is not an address or
    network (a typo would otherwise surface as a failed log-in)."""
    try:
        trusted_networks()
    except ValueError as exc:
        return [Error(f"LINLI_TRUSTED_PROXIES: {exc}", id="linli.E013")]
    return []


@register()
def personal_fields_classified(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[Error]:
    """Every concrete field of a model with personal data has a sensitivity class."""
    errors: list[Error] = []
    for model in apps.get_models():
        declared = getattr(model, "field_sensitivity", None)
        if declared is None:
            continue
        for field in model._meta.concrete_fields:
            if field.name not in declared:
                errors.append(
                    Error(
                        f"{model._meta.label}.{field.name} has no sensitivity class.",
                        hint="Add it to field_sensitivity (linli.core.sensitivity).",
                        obj=model,
                        id="linli.E001",
                    )
                )
    return errors
