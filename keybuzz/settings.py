"""Settings of the KeyBuzz AI control plane.

Everything configurable comes from the environment (and an optional `.env` file) through one
django-environ `Env`, read once here. The variables are documented in README.md and listed in
.env.example.
"""

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# An optional .env beside manage.py; real environment variables win over it. Tests switch it off
# so that a developer's local .env cannot change what they check.
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=True):
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
# A dev-only key while DEBUG is on. With DEBUG off it must come from the environment: left
# empty, Django refuses every use of it and the web entry points refuse to start (see
# keybuzz/startup.py), while commands that sign nothing (migrate, collectstatic) still run.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"  # noqa: S105 (DEBUG only)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
if env.str("SECURE_PROXY_SSL_HEADER", default=""):
    # e.g. "HTTP_X_FORWARDED_PROTO,https" behind an HTTPS-terminating proxy.
    SECURE_PROXY_SSL_HEADER = tuple(env.list("SECURE_PROXY_SSL_HEADER"))

# Served over HTTPS (directly or behind a TLS-terminating proxy): on by default whenever DEBUG
# is off, so `manage.py check --deploy` is clean in production. Plain-HTTP set-ups (local
# gunicorn, tests, the compose quick start) turn it off explicitly.
SECURE_HTTPS = env.bool("SECURE_HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = SECURE_HTTPS
# Probes and Prometheus scrapes speak plain HTTP inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = 31_536_000 if SECURE_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HTTPS
SECURE_HSTS_PRELOAD = SECURE_HTTPS
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SESSION_COOKIE_HTTPONLY = True

INSTALLED_APPS = [
    "console.apps.StaffAdminConfig",  # django.contrib.admin, on the console's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "tenants",
    "ai",
    "usage",
    "alerts",
    "reports",
    "console.apps.ConsoleConfig",
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "keybuzz.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the language cookie, else Accept-Language
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "keybuzz.errors.ErrorsMiddleware",
]

ROOT_URLCONF = "keybuzz.urls"
WSGI_APPLICATION = "keybuzz.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "builtins": ["keybuzz.money_display"],  # {{ amount|usd }} in every template
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Transaction policy: no ATOMIC_REQUESTS. A request that calls LiteLLM must not hold a
# transaction open for the length of the call; services open short transactions explicitly.
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Fail fast when PostgreSQL is unreachable instead of hanging a worker.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        # Parameters travel apart from the SQL (no quoting in Python) and a statement run five
        # times on a connection is prepared: PostgreSQL stops parsing and planning the hot
        # path's statements on every request (docs/PERFORMANCE.md). Off behind a pooler in
        # transaction mode that cannot track prepared statements (PgBouncer before 1.21, or
        # without max_prepared_statements).
        DATABASES["default"]["OPTIONS"].update(server_side_binding=True, prepare_threshold=5)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # `make run`: the server and its worker write the same file. A writer takes the lock when
    # its transaction begins (no deadlock upgrading a read lock) and waits for the other.
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=20, transaction_mode="IMMEDIATE")

# Request bodies above this get 413 payload_too_large (CONTRACT §3). It binds before the
# per-message limits (50 messages of up to 20,000 characters could make ~1 MB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "tenants.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/usage/"  # tenant users; staff sign in at /staff/
LOGOUT_REDIRECT_URL = "/accounts/login/"

# ai_usage's created_at index carries status on PostgreSQL (INCLUDE); SQLite, the development
# default, ignores that column, which only costs the index-only scans there.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]  # compiled .mo files are committed (no msgfmt needed)
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ai@keybuzz.localhost")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # The first class's `authenticate_header` makes unauthenticated requests a 401.
        "tenants.authentication.ServiceKeyAuthentication",
        "tenants.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "keybuzz.negotiation.JsonFallbackContentNegotiation",
    "EXCEPTION_HANDLER": "keybuzz.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "KeyBuzz AI control plane",
    "DESCRIPTION": "AI reply suggestions with per-tenant budgets, kill switches and usage.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The browsable docs use the locally served Swagger UI assets: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# The product's own settings, in one namespaced dict, read at call time as settings.KEYBUZZ[...].
_litellm_timeout = env.float("LITELLM_TIMEOUT_SECONDS", default=30.0)
KEYBUZZ = {
    "LITELLM_BASE_URL": env.str("LITELLM_BASE_URL", default="http://127.0.0.1:4000").rstrip("/"),
    # Unset or empty: fallback mode, no upstream call at all.
    "LITELLM_MASTER_KEY": env.str("LITELLM_MASTER_KEY", default=""),
    # Total deadline of one upstream call, body included.
    "LITELLM_TIMEOUT_SECONDS": _litellm_timeout,
    "AI_RESERVATION_TTL_SECONDS": env.float(
        "AI_RESERVATION_TTL_SECONDS", default=_litellm_timeout + 30
    ),
    # Shared secret of the trusted frontend proxy; unset disables that mode.
    "SERVICE_KEY": env.str("KEYBUZZ_SERVICE_KEY", default=""),
    "AI_BUDGET_TIMEZONE": env.str("AI_BUDGET_TIMEZONE", default="UTC"),
    "AI_MAX_OUTPUT_TOKENS": env.int("AI_MAX_OUTPUT_TOKENS", default=1024),
    # The least max_tokens that fitting a call to the budget goes down to (CONTRACT §8).
    "AI_MIN_OUTPUT_TOKENS": env.int("AI_MIN_OUTPUT_TOKENS", default=256),
    # How long a repeated Idempotency-Key waits for the first request before a 409.
    "AI_IDEMPOTENCY_WAIT_SECONDS": env.float("AI_IDEMPOTENCY_WAIT_SECONDS", default=5.0),
    "REDIS_URL": env.str("REDIS_URL", default=""),
    "METRICS_TOKEN": env.str("METRICS_TOKEN", default=""),
    # Cost alerts (docs/ALERTS.md). Staff who get every alert by email; empty: every active
    # staff user's email.
    "ALERT_STAFF_EMAILS": env.list("ALERT_STAFF_EMAILS", default=[]),
    # A delivery (one email or one webhook) failing this many times is marked dead.
    "ALERT_MAX_ATTEMPTS": env.int("ALERT_MAX_ATTEMPTS", default=8),
    # Retry n waits base * 2^(n-1) seconds (capped at an hour).
    "ALERT_RETRY_BASE_SECONDS": env.float("ALERT_RETRY_BASE_SECONDS", default=30.0),
    "ALERT_WEBHOOK_TIMEOUT_SECONDS": env.float("ALERT_WEBHOOK_TIMEOUT_SECONDS", default=10.0),
    # Alert webhooks and job callbacks may reach loopback, private, link-local and other
    # non-public addresses (CONTRACT §9; keybuzz/outbound.py): development and tests only.
    "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": env.bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=False),
    # Autopilot jobs (CONTRACT §9). A tenant's unfinished jobs beyond this: 429 queue_full.
    "AUTOPILOT_MAX_PENDING_PER_TENANT": env.int("AUTOPILOT_MAX_PENDING_PER_TENANT", default=10_000),
    # Runs that reach the model (upstream failures retried with back-off) before `failed`.
    "AUTOPILOT_MAX_ATTEMPTS": env.int("AUTOPILOT_MAX_ATTEMPTS", default=5),
    # How long a worker owns a running job; past it the job runs again (must exceed the timeout).
    "AUTOPILOT_LEASE_SECONDS": env.float("AUTOPILOT_LEASE_SECONDS", default=_litellm_timeout + 30),
    # Retry n of an upstream failure waits about base * 2^(n-1) seconds (jittered, at most 1 h).
    "AUTOPILOT_RETRY_BASE_SECONDS": env.float("AUTOPILOT_RETRY_BASE_SECONDS", default=5.0),
}
if KEYBUZZ["AI_RESERVATION_TTL_SECONDS"] <= KEYBUZZ["LITELLM_TIMEOUT_SECONDS"]:
    raise ImproperlyConfigured("AI_RESERVATION_TTL_SECONDS must exceed LITELLM_TIMEOUT_SECONDS.")
try:
    ZoneInfo(KEYBUZZ["AI_BUDGET_TIMEZONE"])
except (ZoneInfoNotFoundError, ValueError) as exc:
    raise ImproperlyConfigured("AI_BUDGET_TIMEZONE must be an IANA timezone name.") from exc
if KEYBUZZ["AI_MAX_OUTPUT_TOKENS"] < 1:
    raise ImproperlyConfigured("AI_MAX_OUTPUT_TOKENS must be a positive integer.")
if not 1 <= KEYBUZZ["AI_MIN_OUTPUT_TOKENS"] <= KEYBUZZ["AI_MAX_OUTPUT_TOKENS"]:
    raise ImproperlyConfigured(
        "AI_MIN_OUTPUT_TOKENS must be a positive integer, at most AI_MAX_OUTPUT_TOKENS."
    )
if KEYBUZZ["AUTOPILOT_LEASE_SECONDS"] <= KEYBUZZ["LITELLM_TIMEOUT_SECONDS"]:
    raise ImproperlyConfigured("AUTOPILOT_LEASE_SECONDS must exceed LITELLM_TIMEOUT_SECONDS.")
if KEYBUZZ["AUTOPILOT_MAX_ATTEMPTS"] < 1 or KEYBUZZ["AUTOPILOT_MAX_PENDING_PER_TENANT"] < 1:
    raise ImproperlyConfigured(
        "AUTOPILOT_MAX_ATTEMPTS and AUTOPILOT_MAX_PENDING_PER_TENANT must be positive integers."
    )
if not KEYBUZZ["AUTOPILOT_RETRY_BASE_SECONDS"] > 0:
    raise ImproperlyConfigured("AUTOPILOT_RETRY_BASE_SECONDS must be positive.")
if KEYBUZZ["ALERT_MAX_ATTEMPTS"] < 1:
    raise ImproperlyConfigured("ALERT_MAX_ATTEMPTS must be a positive integer.")
if not KEYBUZZ["ALERT_RETRY_BASE_SECONDS"] > 0 or not KEYBUZZ["ALERT_WEBHOOK_TIMEOUT_SECONDS"] > 0:
    raise ImproperlyConfigured(
        "ALERT_RETRY_BASE_SECONDS and ALERT_WEBHOOK_TIMEOUT_SECONDS must be positive."
    )

# Background work: Django's task framework (the django-tasks backport on Django 5.2) on the
# database (django-tasks-db); workers are `manage.py db_worker` processes. Autopilot jobs keep
# their own state in ai_autopilot_job: a task only wakes a worker to run the next job.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

# Logs: one JSON object per line (for the log pipeline) unless LOG_FORMAT=text (a terminal). The
# filter puts the request id and tenant id of the request being served on every record.
_log_format = env.str("LOG_FORMAT", default="json").strip().lower() or "json"
if _log_format not in ("json", "text"):
    raise ImproperlyConfigured("LOG_FORMAT must be 'json' or 'text'.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"log_context": {"()": "keybuzz.structured_logging.LogContextFilter"}},
    "formatters": {
        "json": {"()": "keybuzz.structured_logging.JsonFormatter"},
        "text": {"()": "keybuzz.structured_logging.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": _log_format,
            "filters": ["log_context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Django's default config gives "django" its own console handler; one line per event is enough.
    "loggers": {"django": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
