from django.urls import path

from linli.passes.views import gate, h5, staff

app_name = "passes"

urlpatterns = [
    # The lead's pages
    path("", staff.pass_list, name="passes"),
    path("policies/new/", staff.policy_create, name="policy_create"),
    path("policies/<int:policy_id>/issue/", staff.policy_issue, name="policy_issue"),
    path("<int:pass_id>/", staff.pass_detail, name="pass"),
    path("<int:pass_id>/revoke/", staff.pass_revoke, name="pass_revoke"),
    path("<int:pass_id>/reissue/", staff.pass_reissue, name="pass_reissue"),
    path("<int:pass_id>/holder/", staff.pass_holder, name="pass_holder"),
    # Gates (public: see docs/passes.md)
    path("keys/", gate.public_keys, name="keys"),
    path("revocations/", gate.revocations, name="revocations"),
    path("verify/", gate.verify, name="verify"),
    # The resident's pass (signed link, no log-in)
    path("h5/<str:token>/", h5.pass_page, name="h5"),
]
