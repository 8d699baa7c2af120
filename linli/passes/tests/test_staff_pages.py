"""The lead's passes pages: list by status, policy form, issue to an area, holder, revoke."""

import pytest

from linli.passes.models import Pass, PassPolicy, PassStatus, RevokeReason
from linli.passes.services import issuing
from linli.passes.tests.builders import household_policy, pass_for_a


@pytest.mark.django_db
def test_lead_lists_passes_by_status(world, client_for):
    """The list shows A's passes with counts; ?status=revoked shows only revoked ones."""
    kept = pass_for_a(world)
    gone = issuing.issue_pass(
        policy=household_policy(world, name="透析出入证", kind="medical"),
        holder=world.resident_a2,
        by=world.lead_a,
    )
    issuing.revoke_pass(pass_=gone, by=world.lead_a)
    client = client_for(world.lead_a)
    body = client.get("/passes/").content.decode()
    assert "出入证" in body and "张三丰" in body and "李秀英" in body
    revoked = client.get("/passes/?status=revoked").content.decode()
    assert f'href="/passes/{gone.pk}/"' in revoked
    assert f'href="/passes/{kept.pk}/"' not in revoked


@pytest.mark.django_db
def test_street_officer_sees_names_masked_and_volunteer_nothing(world, client_for):
    pass_for_a(world)
    body = client_for(world.street_officer).get("/passes/").content.decode()
    assert "张*丰" in body and "张三丰" not in body
    volunteer = client_for(world.volunteer_a)
    assert volunteer.get("/passes/").status_code == 403


@pytest.mark.django_db
def test_navigation_leads_passes_readers_to_the_page(world):
    """The main menu offers the passes page to leads and grid workers, not to volunteers."""
    from linli.core.navigation import navigation_for

    assert "passes:passes" in {e.url_name for e in navigation_for(world.lead_a)}
    assert "passes:passes" in {e.url_name for e in navigation_for(world.grid_a)}
    assert "passes:passes" not in {e.url_name for e in navigation_for(world.volunteer_a)}


@pytest.mark.django_db
def test_lead_creates_a_policy_and_issues_to_the_area(world, client_for):
    """The form creates a policy of A; its button issues a pass to each household."""
    client = client_for(world.lead_a)
    response = client.post(
        "/passes/policies/new/",
        {
            "area": world.a.community.pk,
            "name": "居家购物出入证",
            "kind": "household",
            "valid_from": "2026-12-01",
            "valid_until": "2099-12-31",
            "one_per_household": "on",
            "out_every_days": 2,
            "out_max_hours": 4,
            "medical_from_hour": 0,
            "medical_to_hour": 0,
        },
    )
    assert response.status_code == 302
    policy = PassPolicy.objects.get()
    assert policy.out_every_days == 2 and policy.area == world.a.community
    client.post(f"/passes/policies/{policy.pk}/issue/")
    assert Pass.objects.filter(policy=policy).count() == 1  # 张三丰's household
    assert "每户每 2 天可由一人外出一次" in client.get("/passes/").content.decode()


@pytest.mark.django_db
def test_policy_form_refuses_an_area_outside_and_bad_hours(world, client_for):
    client = client_for(world.lead_a)
    data = {
        "area": world.b.community.pk,
        "name": "x",
        "kind": "medical",
        "valid_from": "2026-12-01",
        "valid_until": "2099-12-31",
        "out_every_days": 0,
        "out_max_hours": 0,
        "medical_from_hour": 20,
        "medical_to_hour": 8,
    }
    assert client.post("/passes/policies/new/", data).status_code == 200
    data["area"] = world.a.community.pk
    body = client.post("/passes/policies/new/", data).content.decode()
    assert "结束须晚于开始" in body
    assert not PassPolicy.objects.exists()
    assert client_for(world.grid_a).get("/passes/policies/new/").status_code == 403


@pytest.mark.django_db
def test_grid_worker_changes_the_holder_and_lead_revokes(world, client_for):
    """The grid worker gives the pass to the spouse; they may not revoke; the lead does."""
    old = pass_for_a(world)
    grid = client_for(world.grid_a)
    page = grid.get(f"/passes/{old.pk}/").content.decode()
    assert "李秀英" in page and "<svg" in page
    response = grid.post(f"/passes/{old.pk}/holder/", {"holder": world.resident_a2.pk})
    new = Pass.objects.get(replaces=old)
    assert response["Location"] == f"/passes/{new.pk}/"
    assert new.holder == world.resident_a2
    assert grid.post(f"/passes/{new.pk}/revoke/").status_code == 403
    lead = client_for(world.lead_a)
    lead.post(f"/passes/{new.pk}/revoke/", {"note": "外出未归"})
    new.refresh_from_db()
    assert (new.status, new.revoke_reason, new.revoke_note) == (
        PassStatus.REVOKED,
        RevokeReason.LEAD,
        "外出未归",
    )
    assert "已吊销" in lead.get(f"/passes/{new.pk}/").content.decode()


@pytest.mark.django_db
def test_holder_change_to_someone_outside_the_household_is_not_found(world, client_for):
    old = pass_for_a(world)
    response = client_for(world.lead_a).post(
        f"/passes/{old.pk}/holder/", {"holder": world.resident_b.pk}
    )
    assert response.status_code == 404
    old.refresh_from_db()
    assert old.status == PassStatus.ACTIVE


@pytest.mark.django_db
def test_reissue_from_the_page(world, client_for):
    old = pass_for_a(world)
    response = client_for(world.lead_a).post(f"/passes/{old.pk}/reissue/")
    new = Pass.objects.get(replaces=old)
    assert response["Location"] == f"/passes/{new.pk}/"
