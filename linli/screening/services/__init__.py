"""Moving: the writes are being split by topic (next commit); this re-export keeps the
imports working meanwhile."""

from linli.screening.services.campaigns import *  # noqa: F403
