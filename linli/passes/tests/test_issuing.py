"""Policies and passes: issuing to a person or an area, the holder, reissuing, revoking."""

import time

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from linli.audit.models import AuditEvent
from linli.demo import factories as f
from linli.passes import tokens
from linli.passes.models import Pass, PassAction, PassRevocation, PassStatus, RevokeReason
from linli.passes.selectors.keys import verifying_keys
from linli.passes.services import issuing
from linli.passes.tests.builders import household_policy, pass_for_a

AREA_A = "610113001001"


def verdict(pass_, *, area=AREA_A, revoked=()):
    return tokens.verify(
        pass_.token,
        keys=verifying_keys(),
        revoked=set(revoked),
        area_code=area,
        now=int(time.time()),
    )


@pytest.mark.django_db
def test_issued_pass_carries_a_signed_masked_token(world):
    """A pass's token verifies at A's gates and shows only the masked name, the ID number's
    last four characters and the building."""
    pass_ = pass_for_a(world)
    result = verdict(pass_)
    assert result.valid
    claims = result.claims
    assert claims.pass_id == pass_.pk
    assert claims.masked_name == "张*丰"
    assert claims.id_tail == world.resident_a.id_number_masked[-4:]
    assert claims.building == world.resident_a.household.address_building
    assert (claims.out_every_days, claims.out_max_hours) == (2, 4)
    assert "张三丰" not in pass_.token
    assert verdict(pass_, area="610113001002").reason == tokens.Reason.WRONG_AREA
    assert AuditEvent.objects.filter(action=PassAction.ISSUE, object_id=str(pass_.pk)).exists()


@pytest.mark.django_db
def test_one_pass_per_household(world):
    """A second member of a household gets no second pass of a one-per-household policy."""
    pass_ = pass_for_a(world)
    with pytest.raises(ValidationError) as error:
        issuing.issue_pass(policy=pass_.policy, holder=world.resident_a2, by=world.lead_a)
    assert "holder" in error.value.message_dict
    assert Pass.objects.count() == 1


@pytest.mark.django_db
def test_issue_to_area_gives_each_household_one_pass_held_by_its_head(world):
    """Every household of the area gets one pass held by its head; B's get none; a second
    run issues nothing new."""
    other = f.make_resident(dwelling=world.a.dwellings[1], name="赵四", sequence=331)
    policy = household_policy(world)
    issued = issuing.issue_to_area(policy=policy, by=world.lead_a)
    holders = {p.holder_id for p in issued}
    assert holders == {world.resident_a.pk, other.pk}
    assert all(verdict(p).valid for p in issued)
    assert {verdict(p).claims.building for p in issued} == {
        world.resident_a.household.address_building,
        other.household.address_building,
    }
    assert not Pass.objects.filter(holder=world.resident_b).exists()
    assert issuing.issue_to_area(policy=policy, by=world.lead_a) == []
    event = AuditEvent.objects.filter(action=PassAction.ISSUE_AREA).last()
    assert event.detail == {"issued": 2}


@pytest.mark.django_db
def test_outsiders_may_not_issue(world):
    """A grid worker may not issue; A's lead may not issue to B's resident or B's area."""
    policy = household_policy(world)
    with pytest.raises(PermissionDenied):
        issuing.issue_pass(policy=policy, holder=world.resident_a, by=world.grid_a)
    with pytest.raises(PermissionDenied):
        issuing.issue_pass(policy=policy, holder=world.resident_b, by=world.lead_a)
    with pytest.raises(PermissionDenied):
        household_policy(world, area=world.b.community)
    assert not Pass.objects.exists()


@pytest.mark.django_db
def test_policy_needs_a_coded_area_and_sane_rules(world):
    """A grid has no division code; a validity backwards and hours out of range are refused."""
    from datetime import date

    with pytest.raises(ValidationError) as error:
        household_policy(world, area=world.a.grid)
    assert "area" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        household_policy(
            world,
            valid_from=date(2030, 1, 2),
            valid_until=date(2030, 1, 1),
            medical_from_hour=20,
            medical_to_hour=8,
            out_every_days=300,
        )
    assert set(error.value.message_dict) == {"valid_until", "medical_to_hour", "out_every_days"}


@pytest.mark.django_db
def test_change_holder_revokes_and_reissues(world):
    """The grid worker gives the household's pass to the spouse: the old pass is revoked
    (and listed), the new one names 李*英; audited with both people."""
    old = pass_for_a(world)
    new = issuing.change_holder(pass_=old, holder=world.resident_a2, by=world.grid_a)
    old.refresh_from_db()
    assert old.status == PassStatus.REVOKED and old.revoke_reason == RevokeReason.HOLDER_CHANGED
    assert PassRevocation.objects.filter(revoked_pass=old).exists()
    assert new.replaces_id == old.pk
    assert verdict(new).claims.masked_name == "李*英"
    assert verdict(old, revoked={old.pk}).reason == tokens.Reason.REVOKED
    event = AuditEvent.objects.get(action=PassAction.CHANGE_HOLDER)
    assert event.detail["from_person"] == world.resident_a.pk
    assert event.detail["to_person"] == world.resident_a2.pk


@pytest.mark.django_db
def test_change_holder_refuses_outside_the_household(world):
    """Only a member of the pass's household may take it over; nothing is written."""
    old = pass_for_a(world)
    stranger = f.make_resident(dwelling=world.a.dwellings[1], name="赵四", sequence=331)
    with pytest.raises(ValidationError):
        issuing.change_holder(pass_=old, holder=stranger, by=world.lead_a)
    old.refresh_from_db()
    assert old.status == PassStatus.ACTIVE
    assert not PassRevocation.objects.exists()


@pytest.mark.django_db
def test_reissue_revokes_the_old_pass(world):
    old = pass_for_a(world)
    new = issuing.reissue_pass(pass_=old, by=world.lead_a)
    old.refresh_from_db()
    assert old.revoke_reason == RevokeReason.REISSUED
    assert new.holder_id == old.holder_id and new.status == PassStatus.ACTIVE
    with pytest.raises(ValidationError):
        issuing.reissue_pass(pass_=old, by=world.lead_a)


@pytest.mark.django_db
def test_lead_revokes_with_a_note(world):
    """The lead revokes; a grid worker may not; revoking twice is refused."""
    pass_ = pass_for_a(world)
    with pytest.raises(PermissionDenied):
        issuing.revoke_pass(pass_=pass_, by=world.grid_a)
    issuing.revoke_pass(pass_=pass_, note="搬离", by=world.lead_a)
    pass_.refresh_from_db()
    assert (pass_.status, pass_.revoke_reason, pass_.revoke_note) == (
        PassStatus.REVOKED,
        RevokeReason.LEAD,
        "搬离",
    )
    assert pass_.revoked_by == world.lead_a
    with pytest.raises(ValidationError):
        issuing.revoke_pass(pass_=pass_, by=world.lead_a)


@pytest.mark.django_db
def test_monitoring_hook_revokes_every_pass_of_the_person(world):
    """The health app's hook revokes what the person holds, as the system when no one acts."""
    pass_ = pass_for_a(world)
    medical = household_policy(world, name="透析出入证", kind="medical", one_per_household=False)
    second = issuing.issue_pass(policy=medical, holder=world.resident_a, by=world.lead_a)
    revoked = issuing.revoke_passes_of_person(person=world.resident_a)
    assert {p.pk for p in revoked} == {pass_.pk, second.pk}
    assert set(Pass.objects.values_list("revoke_reason", flat=True)) == {RevokeReason.MONITORING}
    assert AuditEvent.objects.filter(action=PassAction.REVOKE_MONITORING).count() == 2
    assert issuing.revoke_passes_of_person(person=world.resident_a) == []
