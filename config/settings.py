"""Settings read from the environment, with defaults that are safe to run as they are."""

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Everything Coach writes (exports, uploaded corpora, models, embedded services) lives under one root.
DATA_ROOT = Path(os.environ.get("COACH_DATA_ROOT", BASE_DIR / ".data")).resolve()
MODEL_ROOT = Path(os.environ.get("COACH_MODEL_ROOT", DATA_ROOT / "models")).resolve()
# Where a model directory may be registered from (colon-separated); training output under MODEL_ROOT is
# always allowed. A path is resolved (symlinks, "..") before it is checked.
MODEL_ROOTS = [Path(p).resolve() for p in os.environ.get("COACH_MODEL_ROOTS", "").split(":") if p.strip()] + [
    MODEL_ROOT
]
EXPORT_ROOT = DATA_ROOT / "exports"

PRODUCTION = env_bool("COACH_PRODUCTION")
DEBUG = env_bool("DEBUG") and not PRODUCTION


def _secret_key() -> str:
    if key := os.environ.get("SECRET_KEY"):
        return key
    if PRODUCTION:
        raise RuntimeError("SECRET_KEY must be set when COACH_PRODUCTION is on")
    # A random key kept beside the data, so sessions survive restarts without a shared default.
    path = DATA_ROOT / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    # Only its table is still read: accounts/0002 moved its tokens into accounts.ApiToken. Nothing
    # authenticates with it any more.
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "core",
    "accounts",
    "registry",
    "guidelines",
    "labeling",
    "curation",
    "trainer_bridge",
]

MIDDLEWARE = [
    "config.middleware.ContentSecurityPolicyMiddleware",  # first, so every response carries the policy
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
    "core.pages.DomainErrorMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Failed logins are counted in Postgres per username and address; too many lock that pair out for a while.
# accounts.backends.PasswordBackend is Django's ModelBackend that keeps API tokens through a password re-hash.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "accounts.backends.PasswordBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("COACH_LOGIN_FAILURE_LIMIT", "8"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A locked-out login gets 429: the page registration/locked_out.html, or on the API {"error": "locked_out"}.
AXES_LOCKOUT_CALLABLE = "config.auth.lockout_response"
# The address is the client's, not a reverse proxy's: behind proxies that each append the address they were
# connected from to X-Forwarded-For (nginx's $proxy_add_x_forwarded_for), set COACH_TRUSTED_PROXY_COUNT to how
# many there are. At 0 the header is ignored: set it only when every request comes through those proxies.
TRUSTED_PROXY_COUNT = int(os.environ.get("COACH_TRUSTED_PROXY_COUNT", "0"))
AXES_CLIENT_IP_CALLABLE = "config.auth.client_ip"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
_db_options = DATABASES["default"].setdefault("OPTIONS", {})
_db_options["connect_timeout"] = 5
# Every server-side cursor here (snapshots, exports, curation scans) is read to the end: plan for the whole
# result. Postgres' default (0.1) favours fast-start plans, which can go quadratic on big snapshot joins.
_db_options["options"] = f"{_db_options.get('options', '')} -c cursor_tuple_fraction=1".strip()
# One test database per test run, so runs sharing a server never trip over each other.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("COACH_TEST_DB", f"test_coach_{os.getpid()}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "labeling:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "static_root"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = DATA_ROOT / "media"

# Uploads: imports stream from a temporary file; anything bigger is refused with a clear message.
MAX_UPLOAD_BYTES = int(os.environ.get("COACH_MAX_UPLOAD_BYTES", str(200 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "accounts.authentication.ApiTokenAuthentication",  # Authorization: Token <key>
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "core.api_input.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api_input.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Coach API",
    "DESCRIPTION": "Labeling, curation and training data for language-model post-training.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "TaskKindEnum": "labeling.models.TaskKind",
        "TrainingKindEnum": ["sft", "rm", "dpo"],  # training jobs and retrain policies
        "ExportFormatEnum": ["jsonl", "parquet"],  # snapshot and practice-set exports
        "SamplingEngineEnum": ["auto", "vllm", "transformers"],  # generation and best-of-N jobs
    },
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Starting a job while the broker is down must answer at once (trainer_bridge.jobs.queue.enqueue says so
# with a 503), not hang the web request: connect within 2 s and retry a send twice, quickly.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 3600, "socket_connect_timeout": 2}
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Jobs that run a model go to workers started with `-Q gpu`, one per GPU; the jobs that keep a model
# server running go to `-Q serve` on the machines that host servers (one task per server).
CELERY_TASK_ROUTES = {
    "trainer_bridge.tasks.gpu_*": {"queue": "gpu"},
    "trainer_bridge.tasks.serve_*": {"queue": "serve"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "reclaim-expired-leases": {"task": "labeling.tasks.reclaim_expired_leases", "schedule": 60.0},
    "resume-stale-jobs": {"task": "trainer_bridge.tasks.jobs_resume_stale", "schedule": 30.0},
    "check-model-servers": {"task": "trainer_bridge.tasks.model_servers_check", "schedule": 60.0},
    "schedule-reply-drafts": {"task": "trainer_bridge.tasks.reply_drafts_schedule", "schedule": 60.0},
}
# A running job beats every JOB_HEARTBEAT_SECONDS; one silent for JOB_STALE_SECONDS lost its worker
# and is queued again (it resumes from its saved progress).
JOB_HEARTBEAT_SECONDS = float(os.environ.get("COACH_JOB_HEARTBEAT_SECONDS", "5"))
JOB_STALE_SECONDS = float(os.environ.get("COACH_JOB_STALE_SECONDS", "60"))
CELERY_TIMEZONE = TIME_ZONE

# --- model servers (docs/operations.md, "Model servers") ---
# vLLM's own virtualenv (`make vllm`); where it is missing, Coach starts no vLLM server on this machine.
VLLM_PYTHON = os.environ.get("COACH_VLLM_PYTHON", str(BASE_DIR / ".venv-vllm" / "bin" / "python"))
# Extra arguments for every vLLM server this machine starts; on a CPU: "--gpu-memory-utilization 0.1"
# (there it is the share of RAM kept for the KV cache; the default 0.9 fails).
VLLM_ARGS = os.environ.get("COACH_VLLM_ARGS", "")
# The address servers started here listen on and are reached at (the machine's address on the private
# network when clients run on other machines).
SERVER_HOST = os.environ.get("COACH_SERVER_HOST", "127.0.0.1")
SERVER_THREADS = int(os.environ.get("COACH_SERVER_THREADS", "0"))  # OpenMP threads of a server; 0: all
SERVER_START_SECONDS = float(os.environ.get("COACH_SERVER_START_SECONDS", "900"))
SERVER_CHECK_SECONDS = float(os.environ.get("COACH_SERVER_CHECK_SECONDS", "10"))
# Requests a job keeps in flight to a server (each asks for the K answers of one prompt).
SERVER_CONCURRENCY = int(os.environ.get("COACH_SERVER_CONCURRENCY", "32"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # the model-server client logs every request at INFO: a generation job sends one per prompt
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "openai": {"level": "WARNING"},
    },
}

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
# Content-Security-Policy on every response (config.middleware.ContentSecurityPolicyMiddleware): scripts,
# styles and everything else only from Coach itself (/static/); no inline script, no eval, no plugins, no
# framing, forms post only to Coach. Inline style= attributes (progress bars, chart legends) and the
# <style> that htmx and the API docs add are allowed.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Pages whose templates still hold inline script, by URL name, with the directives they replace. Move the
# script into a static file and the entry goes.
CONTENT_SECURITY_POLICY_PAGES = {
    # django-celery-beat's periodic task form in the admin: the script that spells out the chosen crontab
    "admin:django_celery_beat_periodictask_add": {"script-src": "'self' 'unsafe-inline'"},
    "admin:django_celery_beat_periodictask_change": {"script-src": "'self' 'unsafe-inline'"},
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
