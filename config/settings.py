"""Linli settings: one module, driven by environment variables.

Every setting has a safe default for the embedded mode (SQLite under ./var, one machine,
`make run`). A production deployment sets LINLI_ENV=production and the variables listed in
docs/deployment.md; the system checks in linli.core.checks refuse unsafe combinations.
"""

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


LINLI_ENV = env_str("LINLI_ENV", "embedded")  # embedded | production | test
VAR_DIR = Path(env_str("LINLI_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _embedded_secret(name: str) -> str:
    """Returns a secret kept in ./var so an embedded install survives restarts.

    Production must pass secrets through the environment (checked by linli.core.checks).
    """
    path = VAR_DIR / f"{name}.secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_str("LINLI_SECRET_KEY") or _embedded_secret("django")
# Identifiers (ID numbers, phones) are stored encrypted and searched through a keyed hash;
# these keys are separate from SECRET_KEY so rotating sessions never loses personal data.
LINLI_DATA_KEY = env_str("LINLI_DATA_KEY") or _embedded_secret("data")
LINLI_HASH_KEY = env_str("LINLI_HASH_KEY") or _embedded_secret("hash")

DEBUG = env_bool("LINLI_DEBUG", False)
ALLOWED_HOSTS = env_list("LINLI_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("LINLI_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tasks",
    "linli.core.vendored_apps.BackgroundTasksConfig",  # django_tasks_db, named in Chinese
    "ninja",  # swagger-ui served from its own static files, not a CDN (air-gapped)
    "linli.core.vendored_apps.LoginLockoutsConfig",  # axes, named in Chinese
    "linli.core",
    "linli.adapters",
    "linli.areas",
    "linli.audit",
    "linli.accounts",
    "linli.registry",
    "linli.workorders",
    "linli.screening",
    "linli.voice",
    "linli.passes",
    "linli.reports",
    "linli.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "linli.core.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "linli.core.locale.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "linli.core.context_processors.navigation",
            ],
        },
    },
]

# Database: SQLite under ./var by default (embedded), PostgreSQL through DATABASE_URL.
_default_sqlite = f"sqlite:///{VAR_DIR / 'linli.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", _default_sqlite),
        conn_max_age=env_int("LINLI_DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers work while an import writes; IMMEDIATE avoids "database is locked"
        # when two writers upgrade their locks at once. A 64 MB page cache keeps the indexes an
        # import writes into in memory (the default 2 MB spills them to disk mid-import).
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "reports:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Log-in throttling: five failures for one user name from one address lock it for 15 minutes.
AXES_FAILURE_LIMIT = env_int("LINLI_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LINLI_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Behind a reverse proxy every REMOTE_ADDR is the proxy's: list the proxies (addresses or
# networks, e.g. "127.0.0.1,10.0.0.0/8") whose X-Forwarded-For is believed. Empty: none is.
# One function gives the client's address to the lock-out and to the audit log.
LINLI_TRUSTED_PROXIES = env_list("LINLI_TRUSTED_PROXIES", [])
AXES_CLIENT_IP_CALLABLE = "linli.core.proxies.client_address"

# Sessions end after a working day, and when the browser closes.
SESSION_COOKIE_AGE = env_int("LINLI_SESSION_SECONDS", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

HTTPS = env_bool("LINLI_HTTPS", LINLI_ENV == "production")
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("LINLI_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("LINLI_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Shared by every process (web workers, the task worker): a guard kept in a per-process cache
# would let two web workers each start a send run. Django's database cache needs nothing more
# to run; its table is made by `migrate` (linli.core.apps).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "linli_cache",
    }
}

STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if LINLI_ENV == "test"
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"

# SMS (docs/adapters-sms.md): printed on the console unless a gateway is configured.
LINLI_SMS_BACKEND = env_str(
    "LINLI_SMS_BACKEND",
    "linli.adapters.sms.locmem.LocmemBackend"
    if LINLI_ENV == "test"
    else "linli.adapters.sms.console.ConsoleBackend",
)
LINLI_SMS_FILE_PATH = Path(env_str("LINLI_SMS_FILE_PATH", str(VAR_DIR / "sms")))
LINLI_SMS_GATEWAY_URL = env_str("LINLI_SMS_GATEWAY_URL")
LINLI_SMS_GATEWAY_TOKEN = env_str("LINLI_SMS_GATEWAY_TOKEN")
LINLI_SMS_GATEWAY_TIMEOUT = env_int("LINLI_SMS_GATEWAY_TIMEOUT", 10)
LINLI_SMS_GATEWAY_RETRIES = env_int("LINLI_SMS_GATEWAY_RETRIES", 2)

# Staff alert webhooks (linli.adapters.webhooks): logged to files unless a group robot is set.
LINLI_WEBHOOK_BACKEND = env_str(
    "LINLI_WEBHOOK_BACKEND",
    "linli.adapters.webhooks.locmem.LocmemBackend"
    if LINLI_ENV == "test"
    else "linli.adapters.webhooks.file.FileBackend",
)
LINLI_WEBHOOK_URL = env_str("LINLI_WEBHOOK_URL")
LINLI_WEBHOOK_SECRET = env_str("LINLI_WEBHOOK_SECRET")
LINLI_WEBHOOK_STYLE = env_str("LINLI_WEBHOOK_STYLE", "wecom")

# Work-order state-change webhooks for 12345 and other upper systems (docs/workorders.md,
# "12345 integration"): a JSON object {name: {"url": ..., "secret": ..., "sources": [...]}}.
# Every transition of an order is posted to each subscriber (only orders raised with one of
# its `sources` when it lists any), signed with its secret, through the backend below.
LINLI_WORKORDER_WEBHOOKS: dict[str, dict] = json.loads(env_str("LINLI_WORKORDER_WEBHOOKS", "{}"))
LINLI_WORKORDER_WEBHOOK_BACKEND = env_str(
    "LINLI_WORKORDER_WEBHOOK_BACKEND",
    "linli.adapters.webhooks.locmem.LocmemBackend"
    if LINLI_ENV == "test"
    else "linli.adapters.webhooks.http.HttpBackend",
)

# Where residents' phones open the H5 links sent by SMS (an absolute URL, no trailing slash).
# Empty (the embedded default): links follow the address the send was started on, so
# `make run PORT=8011` texts links to port 8011. Production must set it (check linli.E014).
LINLI_PUBLIC_URL = env_str("LINLI_PUBLIC_URL", "").rstrip("/")

# The phone robot's speech answers to yes/no questions (linli.adapters.asr): the folder of an
# offline Vosk model (needs `pip install vosk`). Empty: residents answer on the keypad only.
LINLI_VOICE_ASR_MODEL = env_str("LINLI_VOICE_ASR_MODEL", "")

# Background work (imports, matching) runs in `manage.py db_worker`; tests run it inline.
TASKS = {
    "default": {
        "BACKEND": env_str(
            "LINLI_TASKS_BACKEND",
            "django_tasks.backends.immediate.ImmediateBackend"
            if LINLI_ENV == "test"
            else "django_tasks_db.DatabaseBackend",
        )
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LINLI_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# Purposes a user must state before a full personal value is shown (audited).
LINLI_REVEAL_PURPOSES = [
    ("verify_identity", _("Verify identity")),
    ("contact_resident", _("Contact the resident")),
    ("epidemiological_investigation", _("Epidemiological investigation")),
    ("medical_assistance", _("Medical assistance")),
    ("report_upward", _("Report to an upper-level system")),
]

LINLI_PAGE_SIZE = env_int("LINLI_PAGE_SIZE", 50)

# The most data cells (rows × columns) an imported file may have: reading one costs memory in
# proportion, about 80 bytes a cell (docs/registry-import.md, bench/import_memory.py).
LINLI_IMPORT_MAX_CELLS = env_int("LINLI_IMPORT_MAX_CELLS", 3_000_000)

# Where an import's matching runs (docs/scale-out.md): "duckdb" inside the worker, or "spark"
# for a city's registry, on the Spark master LINLI_SPARK_MASTER ("local[2]", a cluster's
# "spark://host:7077", or "" for Spark's own spark-defaults.conf). Same model, same links.
LINLI_LINK_ENGINE = env_str("LINLI_LINK_ENGINE", "duckdb")
LINLI_SPARK_MASTER = env_str("LINLI_SPARK_MASTER", "local[2]")

# Phone robot speech (linli.adapters.tts): a dotted path to a TTS adapter, or "espeak" / "fake".
# espeak-ng by default; tests use the deterministic fake unless they ask for espeak.
LINLI_VOICE_TTS = env_str(
    "LINLI_VOICE_TTS",
    "linli.adapters.tts.fake.FakeTTS"
    if LINLI_ENV == "test"
    else "linli.adapters.tts.espeak.EspeakTTS",
)
