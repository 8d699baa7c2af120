"""Every passes page reads in Chinese: no English msgid is left on it."""

import pytest

from linli.passes import h5
from linli.passes.services import issuing
from linli.passes.tests.builders import household_policy, pass_for_a
from linli.screening.tests.test_translations import read_catalogue, untranslated


@pytest.fixture(scope="module")
def catalogue():
    return read_catalogue()


def reads_in_chinese(response, catalogue) -> str:
    assert response.status_code == 200
    html = response.content.decode()
    assert untranslated(html, catalogue) == []
    return html


@pytest.mark.django_db
def test_passes_pages_read_in_chinese(world, client_for, client, catalogue):
    pass_ = pass_for_a(world)
    medical = household_policy(
        world,
        name="透析出入证",
        kind="medical",
        one_per_household=False,
        medical_weekdays=0b10101,
        medical_from_hour=7,
        medical_to_hour=12,
    )
    revoked = issuing.issue_pass(policy=medical, holder=world.resident_a2, by=world.lead_a)
    issuing.revoke_pass(pass_=revoked, by=world.lead_a)
    lead = client_for(world.lead_a)
    html = reads_in_chinese(lead.get("/passes/"), catalogue)
    assert "星期一、星期三、星期五" in html
    reads_in_chinese(lead.get("/passes/?status=revoked"), catalogue)
    reads_in_chinese(lead.get("/passes/policies/new/"), catalogue)
    reads_in_chinese(lead.get(f"/passes/{pass_.pk}/"), catalogue)
    reads_in_chinese(lead.get(f"/passes/{revoked.pk}/"), catalogue)
    reads_in_chinese(client.get(h5.link_for(pass_)), catalogue)
    reads_in_chinese(client.get(h5.link_for(revoked)), catalogue)
