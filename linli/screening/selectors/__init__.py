"""Moving: the reads are being split by topic (next commit); this re-export keeps the
imports working meanwhile."""

from linli.screening.selectors.campaigns import *  # noqa: F403
