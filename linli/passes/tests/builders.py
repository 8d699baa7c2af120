"""Policies and passes on the shared personas (conftest.World), for the passes tests."""

from datetime import timedelta

from linli.core.clock import local_today
from linli.passes.models import PassKind, PassPolicy
from linli.passes.services import issuing


def household_policy(world, *, area=None, by=None, **changes) -> PassPolicy:
    """A household shopping pass of community A: one exit every 2 days, 4 hours at most."""
    today = local_today()
    fields = {
        "name": "居家购物出入证",
        "kind": PassKind.HOUSEHOLD,
        "valid_from": today,
        "valid_until": today + timedelta(days=13),
        "out_every_days": 2,
        "out_max_hours": 4,
    }
    fields.update(changes)
    return issuing.create_policy(area=area or world.a.community, by=by or world.lead_a, **fields)


def pass_for_a(world, **changes):
    """A pass of community A's household policy held by 张三丰 (resident_a)."""
    policy = household_policy(world, **changes)
    return issuing.issue_pass(policy=policy, holder=world.resident_a, by=world.lead_a)
