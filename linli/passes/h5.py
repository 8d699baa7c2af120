"""The resident's pass page link: a signed, expiring link (linli.core.links), as screening's
H5 links are, that works until the pass itself expires."""

from datetime import datetime

from django.urls import reverse
from django.utils import timezone

from linli.core.links import make_token, read_token
from linli.passes.models import Pass

PURPOSE = "passes-h5"


def token_for(pass_: Pass, *, now: datetime | None = None) -> str | None:
    """Returns the token of the pass's page link; None once the pass has expired."""
    now = now or timezone.now()
    if pass_.valid_until <= now:
        return None
    return make_token(
        purpose=PURPOSE, subject=str(pass_.pk), max_age=pass_.valid_until - now, now=now
    )


def link_for(pass_: Pass, *, now: datetime | None = None) -> str | None:
    """Returns the site-relative link of the pass's page; None once it has expired."""
    token = token_for(pass_, now=now)
    return reverse("passes:h5", args=[token]) if token else None


def pass_id_from_token(token: str) -> int:
    """Returns the pass id a link was made for. Raises InvalidLink or ExpiredLink."""
    return int(read_token(token, purpose=PURPOSE))
