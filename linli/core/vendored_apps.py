"""Third-party apps under Chinese names in the admin.

django-axes and django-tasks' database backend name their apps in English only (axes has no
verbose_name, django_tasks_db a plain string), so the admin index would show "Axes" and
"Tasks Database Backend" on a Chinese page. Their models' and fields' names use gettext and are
translated in our catalogue; the app names need these subclasses, listed in INSTALLED_APPS in
place of the apps' own configs (same name and label, so migrations and data are unchanged).
"""

from axes.apps import AppConfig as AxesAppConfig
from django.utils.translation import gettext_lazy as _
from django_tasks_db.apps import TasksAppConfig


class LoginLockoutsConfig(AxesAppConfig):
    """django-axes, named for what it does here: locking out repeated failed log-ins."""

    verbose_name = _("Log-in lockouts")


class BackgroundTasksConfig(TasksAppConfig):
    """django-tasks' database backend: the queue of background jobs (imports, sends)."""

    # django_tasks_db assigns a plain str, so mypy narrows the attribute to str; Django itself
    # takes a lazy string here (AppConfig.verbose_name is StrOrPromise in django-stubs).
    verbose_name = _("Background tasks")  # type: ignore[assignment]
