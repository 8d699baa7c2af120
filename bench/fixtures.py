"""What the benches set up alike: a fresh PostgreSQL database (or an existing one kept between
runs), Django in the bench's own process, and for the screening benches (screening_surge.py,
dialer.py) a database migrated under production settings, one demo community sized for the
run, and a campaign launched by its community lead.

The benches run as scripts from the repository root, so their own folder is on sys.path and
they import this module as `fixtures`. Django is imported inside the functions: nothing of it
may load before setup_django() has put the environment in place.
"""

import math
import os
import secrets
import sys
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from linli.accounts.models import User
    from linli.screening.models import Campaign

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("LINLI_BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")
HOST = "127.0.0.1"
COMPOUNDS = 6  # DemoShape: one community × 3 grids × 2 compounds


# ---------------------------------------------------------------------------------------------
# Database and Django


def admin_connect() -> psycopg.Connection:
    return psycopg.connect(PG_ADMIN_URL, autocommit=True)


def fresh_database(name: str) -> str:
    """Drops and recreates the database; returns its URL. Refuses a database someone is
    connected to (another run of a bench, most likely)."""
    with admin_connect() as conn:
        busy = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name]
        ).fetchone()[0]
        if busy:
            raise SystemExit(
                f"database {name} has {busy} connection(s): another run? Use --database."
            )
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def ensure_database(url: str) -> None:
    """Creates the database named in a PostgreSQL URL when it does not exist yet (a bench
    that keeps its data between runs, like people_list.py)."""
    parts = urlparse(url)
    name = unquote(parts.path.lstrip("/"))
    with psycopg.connect(
        host=parts.hostname or "localhost",
        port=parts.port or 5432,
        user=unquote(parts.username or "") or None,
        password=unquote(parts.password or "") or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def drop_database(name: str) -> None:
    with admin_connect() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def production_env(database_url: str, var_dir: Path) -> dict[str, str]:
    """The environment of a production install (docs/deployment.md), shared by the bench's
    process (seeding, links) and the ones it starts (gunicorn, dialers): the same keys, so
    links signed here verify there."""
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LINLI_ENV": "production",
        "LINLI_DEBUG": "0",
        "DATABASE_URL": database_url,
        "LINLI_SECRET_KEY": secrets.token_urlsafe(48),
        "LINLI_DATA_KEY": secrets.token_urlsafe(48),
        "LINLI_HASH_KEY": secrets.token_urlsafe(48),
        "LINLI_ALLOWED_HOSTS": f"{HOST},localhost",
        "LINLI_VAR_DIR": str(var_dir),
        # Nothing here should send an SMS; if something does, it lands in a file, not a phone.
        "LINLI_SMS_BACKEND": "linli.adapters.sms.file.FileBackend",
        "LINLI_SMS_FILE_PATH": str(var_dir / "sms"),
        "LINLI_LOG_LEVEL": "WARNING",
    }


def setup_django(env: dict[str, str]) -> None:
    """Puts `env` into this process's environment and sets Django up."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def migrate_production(
    database_url: str, var_dir: Path, started: float, *, collectstatic: bool = False
) -> dict[str, str]:
    """Sets Django up in this process with production_env() and migrates the (fresh) database,
    collecting the static files too when a server will serve them; prints the server's version
    and the seconds since `started`. Returns the environment, for the processes to come."""
    env = production_env(database_url, var_dir)
    setup_django(env)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    if collectstatic:
        call_command("collectstatic", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(f"  PostgreSQL {version}; migrated ({time.perf_counter() - started:.1f} s)")
    return env


# ---------------------------------------------------------------------------------------------
# Seeding


def seed_demo_community(n: int, seed_value: int, per_dwelling: float) -> None:
    """Seeds one demo community (linli.demo, the product's own bulk paths) with enough
    dwellings that about `n` residents qualify, at `per_dwelling` qualifying residents per
    dwelling (measured on the generator, less a margin for seed variation)."""
    from linli.demo.generator import DemoShape, generate_demo

    per_compound = max(4, math.ceil(n / COMPOUNDS / per_dwelling))
    started = time.perf_counter()
    summary = generate_demo(
        seed=seed_value,
        shape=DemoShape(communities=1, dwellings_per_compound=per_compound),
        screening=False,  # the bench launches its own campaign
    )
    print(
        f"  demo community: {summary.residents} residents in {summary.households} households "
        f"({time.perf_counter() - started:.1f} s)"
    )


def community_lead() -> "User":
    """The demo community's lead (lead1), who runs the benches' campaigns."""
    from linli.accounts.models import User

    return User.objects.get(username="lead1")


def launch_campaign(
    *,
    questionnaire: str,
    campaign: str,
    channels: Iterable[str],
    from_template: str | None = None,
    definition: dict | None = None,
    deadline: datetime | None = None,
) -> "Campaign":
    """As the community lead, through linli.screening.services: creates the questionnaire
    (from a template or a definition) and a campaign over the whole community, and launches
    it. Returns the running campaign."""
    from linli.screening.services import campaigns as campaign_services
    from linli.screening.services import questionnaires as questionnaire_services

    lead = community_lead()
    community = lead.areas.get()
    created = questionnaire_services.create_questionnaire(
        name=questionnaire,
        area=community,
        by=lead,
        from_template=from_template,
        definition=definition,
    )
    draft = campaign_services.create_campaign(
        name=campaign,
        questionnaire_version=created.versions.get(),
        area=community,
        by=lead,
        channels=channels,
        deadline=deadline,
    )
    return campaign_services.launch_campaign(campaign=draft, by=lead)
