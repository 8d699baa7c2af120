"""The JSON API (OpenAPI document at /api/openapi.json, browsable at /api/docs).

Errors always come back as JSON `{"code": ..., "detail": ...}` with the message in Chinese and
English (core.errors.both_languages), because integrators read the body, not Django's HTML
error pages.
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as RequestValidationError
from ninja.security import django_auth

from linli.core.errors import both_languages, error_in_both_languages
from linli.registry.api import router as registry_router
from linli.screening.api import router as screening_router

api = NinjaAPI(
    title="Linli API",
    version="1",
    description="Areas and people, scoped to the caller's jurisdiction and masked by role.",
    # Session auth; ninja checks the CSRF token itself on unsafe methods (pages send it).
    auth=django_auth,
    urls_namespace="api",
    # The docs page loads swagger-ui from ninja's bundled static files ("ninja" is in
    # INSTALLED_APPS; without it ninja falls back to a CDN). Swagger UI's online validator
    # badge would call validator.swagger.io: government networks are air-gapped, so it is off.
    docs=Swagger(settings={"validatorUrl": None}),
)

NOT_AUTHENTICATED = _("Log in first")
FORBIDDEN = _("Permission denied")
NOT_FOUND = _("Not found, or outside your jurisdiction")
INVALID_REQUEST = _("The request has invalid parameters")
# ninja's own English messages, said in both languages.
NINJA_MESSAGES = {
    "Unauthorized": NOT_AUTHENTICATED,
    "CSRF check Failed": _("CSRF check failed; reload the page"),
}


def _error(request: HttpRequest, status: int, code: str, detail: object, **extra) -> HttpResponse:
    return api.create_response(request, {"code": code, "detail": detail, **extra}, status=status)


@api.exception_handler(PermissionDenied)
def permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    # Selectors and services raise PermissionDenied with a gettext reason; say it in both.
    detail = error_in_both_languages(exc) or both_languages(FORBIDDEN)
    return _error(request, 403, "permission_denied", detail)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    # One message for "does not exist" and "not yours": a 404 must not confirm that a row
    # exists in another community.
    return _error(request, 404, "not_found", both_languages(NOT_FOUND))


@api.exception_handler(DjangoValidationError)
def invalid_value(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    detail = error_in_both_languages(exc) or both_languages(INVALID_REQUEST)
    return _error(request, 400, "invalid", detail)


@api.exception_handler(RequestValidationError)
def invalid_request(request: HttpRequest, exc: RequestValidationError) -> HttpResponse:
    # `errors` keeps pydantic's per-field list (loc, type, msg) for programs; `detail` names
    # the offending fields for people.
    fields = ", ".join(".".join(str(part) for part in e.get("loc", ())) for e in exc.errors)
    invalid = both_languages(INVALID_REQUEST)
    detail = f"{invalid}: {fields}" if fields else invalid
    return _error(request, 422, "validation_error", detail, errors=exc.errors)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = "not_authenticated" if isinstance(exc, AuthenticationError) else "http_error"
    message = NINJA_MESSAGES.get(exc.message)
    detail = both_languages(message) if message is not None else exc.message
    return _error(request, exc.status_code, code, detail)


api.add_router("/", registry_router)
api.add_router("/", screening_router)
