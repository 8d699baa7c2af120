"""The JSON API (OpenAPI document at /api/openapi.json, browsable at /api/docs).

Errors always come back as JSON `{"code": ..., "detail": ...}` with the message in Chinese and
English (core.errors.both_languages), because integrators read the body, not Django's HTML
error pages.
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from ninja import Field, NinjaAPI, Schema, Swagger
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as RequestValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.security import django_auth

from linli.core.errors import both_languages, error_in_both_languages
from linli.registry.api import router as registry_router
from linli.screening.api import router as screening_router
from linli.workorders.api import router as workorders_router


class ApiError(Schema):
    """The body of every error the handlers below return."""

    code: str = Field(description="machine-readable, e.g. not_found, validation_error")
    detail: Any = Field(description="Message in Chinese and English / 中英文说明")
    errors: list[dict[str, Any]] | None = Field(
        None, description="422 only: pydantic's list of invalid fields (loc, type, msg)"
    )


# The answers any operation may give through the exception handlers below, whatever its own
# `response=` says: (status, when it applies, description).
COMMON_ERRORS: tuple[tuple[int, str, str], ...] = (
    (400, "body", "The body is not valid JSON, or a value was refused"),
    (401, "auth", "Not logged in"),
    (403, "auth", "Not allowed for the caller's role, or the CSRF token is missing"),
    (404, "always", "Not found, or outside the caller's jurisdiction"),
    (
        422,
        "parameters",
        "A parameter or the body does not match its schema (e.g. a non-integer id)",
    ),
)
ERROR_REF = {"$ref": "#/components/schemas/ApiError"}


def _applies(when: str, operation: dict[str, Any]) -> bool:
    if when == "body":
        return "requestBody" in operation
    if when == "auth":
        return bool(operation.get("security"))
    if when == "parameters":
        return bool(operation.get("parameters")) or "requestBody" in operation
    return True


def document_common_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Returns the OpenAPI document with the errors every operation can answer listed on each.

    The exception handlers answer for every route (a non-integer id is a 422, an unparsable
    body a 400), so they are documented here once rather than on each route, and a new
    route is documented the day it is added. Where a route documents its own body for one of
    these statuses, the document says it is either.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ApiError"] = ApiError.model_json_schema(ref_template="#/components/schemas/{model}")
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            # ninja keys responses by int; JSON has only strings: one key per status.
            responses = {str(k): v for k, v in operation.get("responses", {}).items()}
            operation["responses"] = responses
            for status, when, description in COMMON_ERRORS:
                if not _applies(when, operation):
                    continue
                response = responses.get(str(status))
                if response is None:
                    responses[str(status)] = {
                        "description": description,
                        "content": {"application/json": {"schema": ERROR_REF}},
                    }
                    continue
                content = response.setdefault("content", {}).setdefault("application/json", {})
                own = content.get("schema")
                if own is None:
                    content["schema"] = ERROR_REF
                elif own != ERROR_REF and ERROR_REF not in own.get("anyOf", []):
                    content["schema"] = {"anyOf": [own, ERROR_REF]}
    return schema


class LinliAPI(NinjaAPI):
    """ninja's API with the common error answers in its OpenAPI document."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        return document_common_errors(
            super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        )


api = LinliAPI(
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
    "Cannot parse request body": _("The request body is not valid JSON"),
}
NINJA_CODES = {"Cannot parse request body": "unparsable_body"}


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
    code = NINJA_CODES.get(exc.message, code)
    message = NINJA_MESSAGES.get(exc.message)
    detail = both_languages(message) if message is not None else exc.message
    return _error(request, exc.status_code, code, detail)


api.add_router("/", registry_router)
api.add_router("/", screening_router)
api.add_router("/", workorders_router)
