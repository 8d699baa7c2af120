"""The resident's pass page: opened by its signed link, big, small, no script."""

from datetime import timedelta

import pytest
from django.utils import timezone

from linli.core.links import make_token
from linli.passes import h5
from linli.passes.qr import qr_svg
from linli.passes.services import issuing
from linli.passes.tests.builders import pass_for_a


@pytest.mark.django_db
def test_pass_page_shows_the_qr_masked_name_building_and_rules(world, client):
    """The page carries the token's QR code as SVG, 张*丰, the building and the rules, in
    Chinese, under 100 KB and without a script; never the full name."""
    pass_ = pass_for_a(world)
    response = client.get(h5.link_for(pass_))
    assert response.status_code == 200
    body = response.content.decode()
    assert qr_svg(pass_.token) in body
    assert "张*丰" in body and "张三丰" not in body
    assert world.resident_a.household.address_building in body
    assert "每 2 天" in body or "每2天" in body
    assert "<script" not in body
    assert len(response.content) < 100_000
    assert response["Cache-Control"] == "private, no-cache"


@pytest.mark.django_db
def test_revoked_pass_page_shows_no_code(world, client):
    """Once revoked, the page says so with the reason and shows no QR code."""
    pass_ = pass_for_a(world)
    link = h5.link_for(pass_)
    issuing.revoke_passes_of_person(person=world.resident_a)
    body = client.get(link).content.decode()
    assert 'data-state="revoked"' in body
    assert "<svg" not in body
    assert "居家隔离" in body


@pytest.mark.django_db
def test_forged_and_expired_links_are_refused(world, client):
    """A forged link is 404; a link past its pass's end is 410; neither names anyone."""
    pass_ = pass_for_a(world)
    token = h5.token_for(pass_)
    forged = client.get(f"/passes/h5/{token[:-2]}xx/")
    assert forged.status_code == 404 and "张" not in forged.content.decode()
    later = timezone.now() + timedelta(days=30)
    assert h5.token_for(pass_, now=later) is None
    early = make_token(
        purpose=h5.PURPOSE,
        subject=str(pass_.pk),
        max_age=timedelta(hours=1),
        now=timezone.now() - timedelta(hours=2),
    )
    expired = client.get(f"/passes/h5/{early}/")
    assert expired.status_code == 410 and "张" not in expired.content.decode()
