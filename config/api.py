"""The JSON API (OpenAPI document at /api/openapi.json, browsable at /api/docs)."""

from ninja import NinjaAPI
from ninja.security import django_auth

api = NinjaAPI(
    title="Linli API",
    version="1",
    description="Areas and people, scoped to the caller's jurisdiction and masked by role.",
    auth=django_auth,
    urls_namespace="api",
)
