from django.urls import path

from linli.passes.views import gate

app_name = "passes"

urlpatterns = [
    # Gates (public: see docs/passes.md)
    path("keys/", gate.public_keys, name="keys"),
    path("revocations/", gate.revocations, name="revocations"),
    path("verify/", gate.verify, name="verify"),
]
