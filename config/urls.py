from django.contrib import admin
from django.urls import include, path

from config.api import api
from linli.core.views import favicon

urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("", include("linli.reports.urls")),
    path("accounts/", include("linli.accounts.urls")),
    path("registry/", include("linli.registry.urls")),
    path("audit/", include("linli.audit.urls")),
    path("screening/", include("linli.screening.urls")),
    path("voice/", include("linli.voice.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
