"""A standing probe of the JSON API: schemathesis over the OpenAPI document as three roles.

For every operation of /api/openapi.json, as a community lead, a street officer and a
volunteer, the probe sends generated requests, valid ones (positive) and broken ones
(negative: wrong types, missing fields, non-integer ids), half of them aimed at objects that
exist in the caller's own area, and checks each answer:

- no server error (5xx);
- the status code is one the document lists for the operation;
- the body matches the documented schema of that status (and content type).

A new app's API joins the probe by being in the OpenAPI document. The probe is bounded
(`MAX_EXAMPLES` per operation, mode and role, derandomized: the same requests every run) so it
adds well under two minutes to CI; raise LINLI_API_PROBE_EXAMPLES for a deeper run by hand.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = int(os.environ.get("LINLI_API_PROBE_EXAMPLES", "30"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
PERSONAS = ["lead_a", "street_officer", "volunteer_a"]

application = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)


@dataclass
class Tally:
    """What the probe sent and what it found, printed at the end of each run."""

    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def real_ids(world) -> dict[str, int]:
    """Returns, per path parameter name, an object of community A (the callers' own area),
    with a running door-knock campaign over it, so generated requests also reach real rows."""
    from linli.screening.services import campaigns as campaign_services
    from linli.screening.tests.builders import draft

    campaign = campaign_services.launch_campaign(
        campaign=draft(world, channels=["h5", "door_knock"]), by=world.lead_a
    )
    return {
        "area_id": world.a.community.pk,
        "person_id": world.resident_a.pk,
        "household_id": world.resident_a.household_id,
        "campaign_id": campaign.pk,
    }


def session_of(client, user) -> tuple[dict[str, str], dict[str, str]]:
    """Returns (cookies, headers) of a logged-in session with its CSRF token."""
    client.force_login(user)
    client.get("/api/docs")  # any page sets the CSRF cookie
    cookies = {name: morsel.value for name, morsel in client.cookies.items()}
    return cookies, {"X-CSRFToken": cookies.get("csrftoken", "")}


def probe_operation(operation, mode: GenerationMode, ids: dict, cookies, headers, tally):
    """Sends up to MAX_EXAMPLES generated requests to one operation; records each failure."""
    names = {p.name for p in operation.path_parameters}
    pinned = {name: value for name, value in ids.items() if name in names}
    strategies = [operation.as_strategy(generation_mode=mode)]
    if pinned and mode is GenerationMode.POSITIVE:
        strategies.append(operation.as_strategy(generation_mode=mode, path_parameters=pinned))

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def run(case):
        tally.requests += 1
        response = case.call(cookies=cookies, headers=headers)
        tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            # Collected rather than raised: one run lists every distinct failure.
            for failure in group.exceptions:
                tally.failures.append(
                    f"{operation.label} [{mode.value}] -> {response.status_code}: "
                    f"{failure.title} ({response.text[:160]})"
                )

    run()


@contextmanager
def connection_kept_open() -> Iterator[None]:
    """Keeps the test's database connection across requests, as Django's test client does:
    the WSGI handler closes it at the start and end of each request, which would end the
    test's transaction (on PostgreSQL every later query would fail). Not around the test
    client, which reconnects the handlers after each of its own requests."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_api_answers_every_request_as_documented(world, client, persona):
    """0 server errors, every status documented, every body as its schema says, per role."""
    cookies, headers = session_of(client, getattr(world, persona))
    ids = real_ids(world)
    tally = Tally()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the OpenAPI document lists no operation"
    with connection_kept_open():
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                probe_operation(operation, mode, ids, cookies, headers, tally)
    print(  # the figures (shown with -s)
        f"\nAPI probe as {persona}: {len(operations)} operations, {tally.requests} requests, "
        f"statuses {dict(sorted(tally.statuses.items()))}, {len(tally.failures)} failures"
    )
    unique = sorted(set(tally.failures))
    assert not unique, "\n".join(unique)
