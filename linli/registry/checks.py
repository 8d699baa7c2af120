"""System checks for the registry's matching settings (registered in RegistryConfig.ready)."""

import importlib.util
import shutil

from django.conf import settings
from django.core.checks import CheckMessage, Error

from linli.registry.matching.backends import ENGINES


def check_link_engine(app_configs: object = None, **kwargs: object) -> list[CheckMessage]:
    """Returns an error when LINLI_LINK_ENGINE names no engine, or names Spark on a machine
    that cannot run it (linli.E080): an import would otherwise fail only when it links."""
    engine = getattr(settings, "LINLI_LINK_ENGINE", "duckdb")
    if engine not in ENGINES:
        return [
            Error(
                f"LINLI_LINK_ENGINE is {engine!r}; it must be one of {', '.join(ENGINES)}.",
                id="linli.E080",
            )
        ]
    if engine == "spark" and (
        importlib.util.find_spec("pyspark") is None or shutil.which("java") is None
    ):
        return [
            Error(
                "LINLI_LINK_ENGINE is spark but pyspark or Java is missing.",
                hint="pip install 'linli[spark]' and a Java 17 runtime (docs/scale-out.md).",
                id="linli.E080",
            )
        ]
    return []
