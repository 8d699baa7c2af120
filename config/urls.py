from django.contrib import admin
from django.urls import include, path

from config.api import api
from linli.core.views import favicon
from linli.screening.views.h5 import h5_page

urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("", include("linli.reports.urls")),
    path("accounts/", include("linli.accounts.urls")),
    path("areas/", include("linli.areas.urls")),
    path("registry/", include("linli.registry.urls")),
    path("audit/", include("linli.audit.urls")),
    path("screening/", include("linli.screening.urls")),
    # The short form of a resident's H5 link, so the SMS carrying it fits one segment.
    path("h/<str:token>", h5_page, name="h5_short"),
    path("voice/", include("linli.voice.urls")),
    path("work-orders/", include("linli.workorders.urls")),
    path("passes/", include("linli.passes.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
