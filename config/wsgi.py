import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()


def _refuse_unsafe_configuration() -> None:
    """gunicorn runs no system checks; a production server must not start misconfigured."""
    from django.conf import settings
    from django.core import checks
    from django.core.exceptions import ImproperlyConfigured

    if settings.LINLI_ENV != "production":
        return
    serious = [e for e in checks.run_checks(tags=[checks.Tags.security]) if e.is_serious()]
    if serious:
        raise ImproperlyConfigured("; ".join(str(e.msg) for e in serious))


_refuse_unsafe_configuration()
