"""Which passes services write which audit action (tests/test_audit_coverage.py walks them).

Each exercise runs its service once on the shared personas of conftest.World: community A's
lead issues, its grid worker changes holders, 张三丰 (resident_a) holds the pass.
"""

from linli.core.roles import Role
from linli.demo import factories as f
from linli.passes.models import PassAction
from linli.passes.services import issuing
from linli.passes.services import keys as key_services
from linli.passes.tests.builders import household_policy, pass_for_a


def _city(world):
    return f.make_staff(username="city_keys", role=Role.CITY_OFFICER, areas=[world.city])


AUDITED = {
    "current_signing_key": (PassAction.CREATE_KEY, lambda w: key_services.current_signing_key()),
    "rotate_signing_key": (
        PassAction.ROTATE_KEY,
        lambda w: key_services.rotate_signing_key(by=_city(w)),
    ),
    "retire_signing_key": (
        PassAction.RETIRE_KEY,
        lambda w: key_services.retire_signing_key(
            key=key_services.current_signing_key(), by=_city(w)
        ),
    ),
    "create_policy": (PassAction.CREATE_POLICY, household_policy),
    "issue_pass": (PassAction.ISSUE, pass_for_a),
    "issue_to_area": (
        PassAction.ISSUE_AREA,
        lambda w: issuing.issue_to_area(policy=household_policy(w), by=w.lead_a),
    ),
    "reissue_pass": (
        PassAction.REISSUE,
        lambda w: issuing.reissue_pass(pass_=pass_for_a(w), by=w.lead_a),
    ),
    "change_holder": (
        PassAction.CHANGE_HOLDER,
        lambda w: issuing.change_holder(pass_=pass_for_a(w), holder=w.resident_a2, by=w.grid_a),
    ),
    "revoke_pass": (
        PassAction.REVOKE,
        lambda w: issuing.revoke_pass(pass_=pass_for_a(w), by=w.lead_a),
    ),
    "revoke_passes_of_person": (
        PassAction.REVOKE_MONITORING,
        lambda w: (pass_for_a(w), issuing.revoke_passes_of_person(person=w.resident_a)),
    ),
}

NOT_AUDITED = {
    "private_key_of": "reads a key; writes nothing",
    "validity_of": "computes dates; writes nothing",
    "sign_pass": "computes a token; its caller stores and audits it",
    "sign_document": "signs a text for gates; the first key it may need is made (and audited)"
    " by current_signing_key",
}
