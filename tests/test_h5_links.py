"""A genuine H5 link of community B, opened by staff of community A, shows nothing of B but
what its resident would see.

An H5 link is its own credential: a resident opens it without logging in, so the page cannot
refuse a logged-in stranger the way staff pages do. What it must guarantee instead is that a
session changes nothing: staff of A get exactly the resident's page (the masked name and the
questions), no staff navigation and none of B's other data, and an answer they post through
it is the resident's answer, never attributed to them. tests/test_jurisdiction_urls.py tries
a forged token on these routes and cites this test for genuine ones.
"""

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from linli.screening import h5
from linli.screening.models import CampaignTarget, ContactAttempt
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services

# B's data that is not on the resident's page: his full name, his phone, his compound, and
# another resident of B.
B_PRIVATE = ("王五", "13698765432", "5432", "曲江花园", "王六")
NONCE = re.compile(r'name="nonce" value="[0-9a-f]+"')


@pytest.fixture
def b_link(world):
    """A running H5 campaign of community B over 王五; returns his target."""
    from linli.core.roles import Role
    from linli.demo import factories as f

    b = world.b.community
    lead_b = f.make_staff(username="lead_b", role=Role.COMMUNITY_LEAD, areas=[b])
    f.make_resident(dwelling=world.b.dwellings[1], name="王六", sequence=556)
    questionnaire = questionnaire_services.create_questionnaire(
        name="大雁塔社区排查", area=b, by=lead_b, from_template="daily_symptoms"
    )
    campaign = campaign_services.create_campaign(
        name="大雁塔社区每日监测",
        questionnaire_version=questionnaire_selectors.latest_version(questionnaire),
        area=b,
        by=lead_b,
        channels=["h5", "door_knock"],
        deadline=timezone.now() + timedelta(days=1),
    )
    campaign_services.launch_campaign(campaign=campaign, by=lead_b)
    return CampaignTarget.objects.get(campaign=campaign, person=world.resident_b)


def _page(client, target, **query) -> str:
    response = client.get(reverse("screening:h5", args=[h5.token_for(target)]), query)
    assert response.status_code == 200
    return NONCE.sub("", response.content.decode())


@pytest.mark.parametrize("persona", ["grid_a", "lead_a", "steward_a"])
def test_staff_of_a_see_only_what_the_resident_of_b_sees(client, world, b_link, persona):
    anonymous = {step: _page(client, b_link, **query) for step, query in _steps()}
    client.force_login(getattr(world, persona))
    for step, query in _steps():
        body = _page(client, b_link, **query)
        assert body == anonymous[step], step  # the session adds nothing
        leaked = [marker for marker in B_PRIVATE if marker in body]
        assert not leaked, (step, leaked)
        assert getattr(world, persona).username not in body  # no staff header
    intro = anonymous["intro"]
    assert "王*" in intro
    assert "请测量并告诉我们您今天的体温" in anonymous["question"]


def _steps():
    return [("intro", {}), ("question", {"as": "self"})]


def test_an_answer_posted_by_staff_of_a_is_the_residents_not_theirs(client, world, b_link):
    client.force_login(world.grid_a)
    response = client.post(
        reverse("screening:h5_answer", args=[h5.token_for(b_link)]),
        data=json.dumps({"idempotency_key": "k-a", "answers": {"temperature": "36.5"}}),
        content_type="application/json",
    )
    assert response.status_code == 200
    attempt = ContactAttempt.objects.get(idempotency_key="k-a")
    assert attempt.by is None
    assert set(response.json()) == {"saved", "created", "next_question", "complete"}


def test_a_link_of_b_opens_nothing_on_the_staff_pages_of_a(client, world, b_link):
    """The token names a target; it is no key to B's campaign pages for staff of A."""
    client.force_login(world.lead_a)
    url = reverse("screening:send_links", args=[b_link.campaign_id])
    assert client.get(url).status_code in {403, 404}
    assert client.post(url).status_code in {403, 404}
