"""Moving: the definitions are being split by topic (next commit); this re-export keeps the
imports working meanwhile."""

from linli.screening.questionnaires.schema import *  # noqa: F403
