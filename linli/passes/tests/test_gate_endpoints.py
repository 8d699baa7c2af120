"""What gates fetch: keys, the signed revocation list as a delta, and the verify endpoint."""

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from linli.passes.services import issuing
from linli.passes.tests.builders import pass_for_a

AREA_A = "610113001001"


def _verified_payload(client, document: dict) -> dict:
    keys = client.get("/passes/keys/").json()["keys"]
    public = {k["key_id"]: base64.b64decode(k["public_key"]) for k in keys}
    Ed25519PublicKey.from_public_bytes(public[document["key_id"]]).verify(
        base64.b64decode(document["signature"]), document["payload"].encode()
    )
    return json.loads(document["payload"])


@pytest.mark.django_db
def test_revocation_list_is_signed_versioned_and_delta(world, client):
    """Anyone fetches the list; its signature checks with the published key; asking since
    the last version gives only what came after."""
    first, second = pass_for_a(world), None
    issuing.revoke_pass(pass_=first, by=world.lead_a)
    response = client.get("/passes/revocations/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=60"
    payload = _verified_payload(client, response.json())
    assert payload["revoked"] == [[first.pk, int(first.valid_until.timestamp())]]
    version = payload["version"]
    second = issuing.reissue_pass(
        pass_=issuing.issue_pass(policy=first.policy, holder=world.resident_a, by=world.lead_a),
        by=world.lead_a,
    )
    delta = _verified_payload(client, client.get(f"/passes/revocations/?since={version}").json())
    assert [entry[0] for entry in delta["revoked"]] == [second.replaces_id]
    assert delta["since"] == version and delta["version"] > version
    latest = client.get(f"/passes/revocations/?since={delta['version']}")
    assert _verified_payload(client, latest.json())["revoked"] == []


@pytest.mark.django_db
def test_revocation_list_answers_304_to_its_etag(world, client):
    """A gate that has the current list gets 304 and no body."""
    issuing.revoke_pass(pass_=pass_for_a(world), by=world.lead_a)
    etag = client.get("/passes/revocations/")["ETag"]
    cached = client.get("/passes/revocations/", headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    assert client.get("/passes/revocations/?since=x").status_code == 400
    assert client.get("/passes/revocations/?since=-1").status_code == 400


def _verify(client, token, area=AREA_A):
    return client.post(
        "/passes/verify/",
        json.dumps({"token": token, "area_code": area}),
        content_type="application/json",
    )


@pytest.mark.django_db
def test_verify_endpoint_applies_the_gate_rules(world, client):
    """Valid, then wrong area, then revoked, each with the reason in Chinese and English; a
    forged token names no one."""
    pass_ = pass_for_a(world)
    answer = _verify(client, pass_.token).json()
    assert answer["valid"] is True
    assert answer["pass"]["masked_name"] == "张*丰"
    assert answer["message_zh"] == "有效出入证"
    other = _verify(client, pass_.token, area="610113001002").json()
    assert (other["valid"], other["reason"]) == (False, "wrong_area")
    assert other["message_en"] == "Pass of another area"
    issuing.revoke_pass(pass_=pass_, by=world.lead_a)
    revoked = _verify(client, pass_.token).json()
    assert (revoked["valid"], revoked["reason"]) == (False, "revoked")
    assert revoked["message_zh"] == "出入证已被吊销"
    forged = _verify(client, pass_.token[:-6] + "AAAAAA").json()
    assert forged["reason"] in {"bad_signature", "malformed"} and forged["pass"] is None


@pytest.mark.django_db
def test_verify_endpoint_refuses_bad_requests(client):
    """A body without a token or a 12-digit area code is a 400 in both languages."""
    for body in ["", "{", json.dumps({"token": "x"}), json.dumps({"token": 1, "area_code": 1})]:
        response = client.post("/passes/verify/", body, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["message_en"].startswith("Send JSON")
    assert client.get("/passes/verify/").status_code == 405
