"""The main pages render for each role, scoped and masked on the server."""

from django.urls import reverse

from linli.audit.models import AuditAction, AuditEvent
from linli.registry.models import RegistryAction


def test_home_shows_live_counts_for_community_lead(world, client_for):
    """A community lead lands on their community's figures, computed from the registry."""
    response = client_for(world.lead_a).get(reverse("reports:home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "长延堡社区" in body
    assert "大雁塔社区" not in body
    assert 'data-testid="residents-total">2<' in body


def test_person_list_masks_identifiers_for_grid_worker(world, client_for):
    """A grid worker sees names in clear but ID numbers and phones masked."""
    response = client_for(world.grid_a).get(reverse("registry:people"))
    body = response.content.decode()
    assert "张三丰" in body
    assert "138****5678" in body
    assert "13812345678" not in body
    assert "王五" not in body


def test_street_officer_sees_names_masked(world, client_for):
    """Officials above the community see names masked and both communities' residents."""
    body = client_for(world.street_officer).get(reverse("registry:people")).content.decode()
    assert "张*丰" in body
    assert "张三丰" not in body
    assert "王*" in body
    assert "翠华小区1号楼****" in body
    assert "101室" not in body


def test_person_page_records_view_and_reveal_needs_purpose(world, client_for):
    """Opening a file is audited; revealing without a purpose is refused and not audited."""
    client = client_for(world.grid_a)
    url = reverse("registry:person", args=[world.resident_a.pk])
    assert client.get(url).status_code == 200
    assert AuditEvent.objects.filter(action=RegistryAction.VIEW_PERSON, actor=world.grid_a).exists()
    reveal = reverse("registry:reveal", args=[world.resident_a.pk])
    refused = client.post(reveal, {"field": "phone", "purpose": ""})
    assert refused.status_code == 400
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL).exists()
    shown = client.post(reveal, {"field": "phone", "purpose": "contact_resident"})
    assert shown.status_code == 200
    assert "13812345678" in shown.content.decode()
    event = AuditEvent.objects.get(action=AuditAction.REVEAL)
    assert (event.actor, event.field, event.purpose) == (world.grid_a, "phone", "contact_resident")


def test_area_page_shows_division_code_and_people_in_charge(world, client_for):
    """The community page shows its 12-digit code and its grid worker on the grid row."""
    client = client_for(world.lead_a)
    body = client.get(reverse("registry:area", args=[world.a.community.pk])).content.decode()
    assert "610113001001" in body
    assert "grid_a" in body


def test_list_pages_do_not_query_per_row(world, client_for):
    """Adding residents and households does not add queries to the list pages (no N+1)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from linli.demo import factories as f

    client = client_for(world.lead_a)
    urls = [reverse("registry:people"), reverse("registry:households"), reverse("reports:home")]

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    before = {url: queries(url) for url in urls}
    for i, dwelling in enumerate(world.a.dwellings[1:], start=1):
        f.make_resident(dwelling=dwelling, name=f"赵{i}", sequence=600 + i, tags=["infant"])
    after = {url: queries(url) for url in urls}
    assert after == before


def test_bad_filter_shows_an_error_instead_of_everybody(world, client_for):
    """An unknown vulnerable-group filter is refused at the field, listing nobody."""
    response = client_for(world.grid_a).get(reverse("registry:people"), {"tag": "bogus"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "重点人群" in body and "bogus" in body
    assert "张三丰" not in body


def test_search_by_id_number_full_masked_or_last_four(world, client_for):
    """A full ID (keyed hash), its masked form or its last four find the person; a fragment
    of the middle finds nobody."""
    client = client_for(world.grid_a)
    masked = world.resident_a.id_number_masked
    full = "610113198005171237"
    assert masked == "6101**********1237"
    for query in (full, masked, "1237"):
        response = client.post(reverse("registry:people"), {"id_number": query}, follow=True)
        body = response.content.decode()
        assert "张三丰" in body, query
        assert "李秀英" not in body, query
        # The search URL (logs, history, pagination links) never carries the full number.
        assert full not in response.redirect_chain[-1][0]
    typed = client.get(reverse("registry:people"), {"id_number": full, "phone": "13812345678"})
    assert typed.status_code == 302
    assert full not in typed["Location"] and "13812345678" not in typed["Location"]
    body = client.get(reverse("registry:people"), {"id_number": "19800517"}).content.decode()
    assert "张三丰" not in body
