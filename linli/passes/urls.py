from django.urls import path

from linli.passes.views import gate, h5

app_name = "passes"

urlpatterns = [
    # Gates (public: see docs/passes.md)
    path("keys/", gate.public_keys, name="keys"),
    path("revocations/", gate.revocations, name="revocations"),
    path("verify/", gate.verify, name="verify"),
    # The resident's pass (signed link, no log-in)
    path("h5/<str:token>/", h5.pass_page, name="h5"),
]
