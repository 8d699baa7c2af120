"""JSON API of screening (mounted under /api/ by config.api).

The door-knock endpoint takes what a grid worker's phone queued (static/screening/door_knock.js):
one visit, keyed by the idempotency key the phone made, so a submission queued offline and
sent again counts once. Its answers keep the shape the phone's queue reads: 200
`{"saved": true, …}`, and `{"saved": false, "errors": {field: message}}` with 400 (fix the
record), 403 (not yours) or 404 (not found); a logged-out phone gets the API's 401.
"""

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from linli.core.actors import AuditContext
from linli.core.errors import errors_by_field
from linli.core.permissions import require
from linli.screening.forms import DoorKnockForm
from linli.screening.models import TargetStatus
from linli.screening.roles import SCREENERS
from linli.screening.selectors import campaigns as campaign_selectors
from linli.screening.services import door_knocks as door_knock_services

router = Router(tags=["screening"])


class DoorKnockIn(Schema):
    """One visit as the phone recorded it. Values are checked by DoorKnockForm and the
    service, so a wrong one comes back as a field error the worker can fix."""

    target: Any = None
    outcome: Any = ""
    answers: Any = None
    by_proxy: Any = False
    idempotency_key: Any = ""
    recorded_at: Any = None
    started_at: Any = None
    device: Any = ""
    offline: Any = False


class DoorKnockOut(Schema):
    saved: bool
    created: bool
    target: int
    attempt: int
    outcome: str
    status: str
    status_label: str
    risk_level: str
    complete: bool


class DoorKnockErrors(Schema):
    saved: bool = False
    errors: dict[str, str]


def _refused(status: int, errors: dict[str, str]) -> Status[DoorKnockErrors]:
    return Status(status, DoorKnockErrors(errors=errors))


@router.post(
    "/screening/campaigns/{campaign_id}/door-knocks",
    response={200: DoorKnockOut, 400: DoorKnockErrors, 403: DoorKnockErrors, 404: DoorKnockErrors},
    url_name="screening_door_knock",
    summary="Record a door knock",
)
def record_door_knock(
    request: HttpRequest, campaign_id: int, payload: DoorKnockIn
) -> Status[DoorKnockOut] | Status[DoorKnockErrors]:
    """Records one visit to a member of the campaign's targets in the worker's areas. A resend
    of a key already stored returns the stored visit (`created: false`)."""
    user = request.user
    try:
        require(user, roles=SCREENERS)
        campaign = campaign_selectors.campaign_for(user, campaign_id)
    except PermissionDenied as error:
        return _refused(403, {"__all__": str(error)})
    except Http404:
        return _refused(404, {"__all__": _("Campaign not found.")})
    form = DoorKnockForm(payload.dict())
    if not form.is_valid():
        return _refused(400, {field: " ".join(texts) for field, texts in form.errors.items()})
    data = form.cleaned_data
    try:
        target = campaign_selectors.target_for(user, data["target"])
        if target.campaign_id != campaign.pk:
            raise Http404("target not found")
    except Http404:
        return _refused(404, {"target": _("No such resident on your list.")})
    try:
        result = door_knock_services.record_door_knock(
            target=target,
            by=user,
            outcome=data["outcome"],
            answers=data["answers"],
            by_proxy=data["by_proxy"],
            idempotency_key=data["idempotency_key"],
            recorded_at=data["recorded_at"],
            started_at=data["started_at"],
            device=data["device"],
            offline=data["offline"],
            context=AuditContext.from_request(request),
        )
    except PermissionDenied as error:
        return _refused(403, {"__all__": str(error)})
    except ValidationError as error:
        return _refused(400, errors_by_field(error))
    return Status(
        200,
        DoorKnockOut(
            saved=True,
            created=result.created,
            target=result.target.pk,
            attempt=result.attempt.pk,
            outcome=result.attempt.outcome,
            status=result.target.status,
            status_label=str(TargetStatus(result.target.status).label),
            risk_level=result.target.risk_level,
            complete=result.complete,
        ),
    )
