"""What gates fetch: the public keys, the revocation list (a delta since a version), and a
verify endpoint for third-party gate systems. All public: see docs/passes.md."""

import hashlib
import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from linli.core.errors import CHINESE, ENGLISH, Message, in_language
from linli.passes import tokens
from linli.passes.selectors import gates
from linli.passes.services import keys as key_services

# Gates poll every minute; a minute of staleness is what the issue accepts, and a shared
# cache in front of the server then answers ten thousand gates with one request a minute.
REVOCATIONS_MAX_AGE = 60
KEYS_MAX_AGE = 300
BAD_REQUEST = _("Send JSON with a token and a 12-digit area_code")
BAD_SINCE = _("since must be a whole number of at least 0")


def _bilingual_error(message: Message, status: int = 400) -> JsonResponse:
    return JsonResponse(
        {
            "error": "bad_request",
            "message_zh": in_language(message, CHINESE),
            "message_en": in_language(message, ENGLISH),
        },
        status=status,
    )


@require_GET
def public_keys(request: HttpRequest) -> HttpResponse:
    """The keys passes are signed with, for gates to verify offline."""
    response = JsonResponse(gates.public_keys())
    response["Cache-Control"] = f"public, max-age={KEYS_MAX_AGE}"
    return response


@require_GET
def revocations(request: HttpRequest) -> HttpResponse:
    """The signed revocations after ?since=N (all that still matter when absent or 0)."""
    try:
        since = int(request.GET.get("since") or 0)
    except ValueError:
        since = -1
    if since < 0:
        return _bilingual_error(BAD_SINCE)
    delta = gates.revocations_since(since)
    etag = '"' + hashlib.sha256(delta.payload.encode()).hexdigest()[:32] + '"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
    else:
        response = JsonResponse(key_services.sign_document(delta.payload).as_dict())
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={REVOCATIONS_MAX_AGE}"
    return response


@csrf_exempt
@require_POST
def verify(request: HttpRequest) -> HttpResponse:
    """POST {"token", "area_code"}: the verdict a gate of that area gives the token."""
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        body = None
    token = body.get("token") if isinstance(body, dict) else None
    area_code = body.get("area_code") if isinstance(body, dict) else None
    if not isinstance(token, str) or not isinstance(area_code, str):
        return _bilingual_error(BAD_REQUEST)
    if len(area_code) != 12 or not area_code.isdigit() or len(token) > 1000:
        return _bilingual_error(BAD_REQUEST)
    verdict = gates.verdict_on(token, area_code=area_code)
    claims = verdict.claims
    message = tokens.MESSAGES[verdict.reason]
    response = JsonResponse(
        {
            "valid": verdict.valid,
            "reason": verdict.reason,
            "message_zh": in_language(message, CHINESE),
            "message_en": in_language(message, ENGLISH),
            "pass": None
            if claims is None
            else {
                "pass_id": claims.pass_id,
                "kind": claims.kind,
                "area_code": claims.area_code,
                "masked_name": claims.masked_name,
                "id_tail": claims.id_tail,
                "building": claims.building,
                "valid_from": claims.valid_from,
                "valid_until": claims.valid_until,
            },
        }
    )
    response["Cache-Control"] = "no-store"
    return response
