"""Settings shared by every run mode; each value that varies comes from the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.utils.csp import CSP

from helpline.languages import LANGUAGES as SPOKEN
from helpline.redis_hosts import channel_layer_hosts
from helpline.settings.env import env_bool, env_int, env_list, env_str
from helpline.static_headers import add_static_headers

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Everything the embedded default writes (database, demo keys, secret) lives here, never in the repo.
VAR_DIR = Path(env_str("HELPLINE_VAR_DIR", str(BASE_DIR / "var")))

# prod.py sets it; helpline.settings.checks then refuses an unsafe configuration.
PRODUCTION = False
DEBUG = env_bool("HELPLINE_DEBUG", False)
SECRET_KEY = env_str("HELPLINE_SECRET_KEY")
ALLOWED_HOSTS = env_list("HELPLINE_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "helpline",
    "helpline.accounts",
    "helpline.metrics",
    "chat",
    "selfhelp",
    "securemessages",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "helpline.middleware.PrivacyHeadersMiddleware",
    "helpline.middleware.ReferralCodeMiddleware",
    "helpline.middleware.FormBodyMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "helpline.middleware.ScriptIntegrityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "helpline.middleware.OneThreadMiddleware",  # last: the whole chain runs sync, in one trip (its docstring)
]

ROOT_URLCONF = "helpline.urls"
ASGI_APPLICATION = "helpline.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "helpline.context_processors.service",
            ],
        },
    }
]


# Per Daphne process; PostgreSQL's default max_connections (100) holds four processes and the sweep.
DATABASE_POOL_SIZE = env_int("HELPLINE_DATABASE_POOL_SIZE", 20, minimum=2)


def database_from_url(url: str, default_sqlite: Path) -> dict[str, object]:
    """Turn HELPLINE_DATABASE_URL (postgres://user:pass@host:port/name or empty) into DATABASES['default']."""
    if not url:
        # Not kept past a request: under ASGI each request has a connection of its own (Django's advice is
        # CONN_MAX_AGE 0 there), and a kept one stayed open, file descriptors and all, until the collector
        # found it. The sockets' database work keeps one connection for good (helpline/database.py).
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": default_sqlite, "CONN_MAX_AGE": 0,
                "CONN_HEALTH_CHECKS": True,
                "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20,
                            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}}
    parts = urlsplit(url)
    if parts.scheme in {"postgres", "postgresql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            # A pool per process, not persistent connections: under ASGI every concurrent request runs in a
            # thread of its own, and with CONN_MAX_AGE each kept its connection until the thread's objects
            # were collected. The scaled benchmark ran PostgreSQL out of connections ("too many clients
            # already", HTTP 500 on /chat/pow/). Django's docs say the same: under ASGI, use the backend's
            # pool. A request beyond the pool waits up to `timeout` seconds for a connection.
            "OPTIONS": {"pool": {"min_size": 2, "max_size": DATABASE_POOL_SIZE, "timeout": 10}},
        }
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parts.path),
                "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20}}
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"HELPLINE_DATABASE_URL: unsupported scheme {parts.scheme!r} (use postgres:// or sqlite://)")


DATABASE_URL = env_str("HELPLINE_DATABASE_URL")
DATABASES = {"default": database_from_url(DATABASE_URL, VAR_DIR / "helpline.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("HELPLINE_REDIS_URL")
# How many server processes share the database. More than one needs Redis (settings/checks.py); the
# embedded default is one process, production's default is deploy/'s two.
SERVER_PROCESSES = env_int("HELPLINE_PROCESSES", 1, minimum=1)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis's Pub/Sub layer: Redis passes each message on and keeps nothing (no keys, no
            # expiry to tune), one publish per message and one per group send, and each process reads all its
            # sockets' messages from one subscription. Its core layer received for every socket of a process
            # through one lock and one BZPOPMIN per message, and relayed 41 messages/s at saturation
            # (docs/performance.md). A message for a socket that is gone is dropped, as an expired one was.
            # Ours sends a message for a socket of the same process straight into its inbox (helpline/upstream.py).
            "BACKEND": "helpline.upstream.LocalFirstPubSubLayer",
            "CONFIG": {"hosts": channel_layer_hosts(REDIS_URL)},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": "helpline"}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "helpline.upstream.EmbeddedChannelLayer",
                                  "CONFIG": {"expiry": 30, "capacity": 200}}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"

# Lockout by username only, in the cache: the database handler keeps user agents whatever we set.
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_FAILURE_LIMIT = env_int("HELPLINE_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("HELPLINE_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "helpline.accounts.access.no_client_address"
# Browsers that signed in before count apart, so guessing cannot lock a counsellor out (accounts/guessing.py).
AXES_USERNAME_CALLABLE = "helpline.accounts.guessing.lockout_key"
AXES_LOCKOUT_CALLABLE = "helpline.accounts.views.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = False

OTP_TOTP_ISSUER = env_str("HELPLINE_SERVICE_NAME", "Stop It Now helpline")
# Seals authenticator seeds at rest (accounts/seeds.py); production refuses to start without one.
TOTP_SEED_KEY = env_str("HELPLINE_TOTP_SEED_KEY")

# Stored under a digest of the key, so a database reader cannot reuse a session (accounts/sessions.py).
SESSION_ENGINE = "helpline.accounts.sessions"
SESSION_COOKIE_AGE = env_int("HELPLINE_STAFF_SESSION_MINUTES", 480, minimum=5) * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Strict"
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# TLS is terminated by the proxy in the scaled mode; the embedded default and onion services run without it.
TLS = env_bool("HELPLINE_TLS", False)
if TLS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("HELPLINE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("HELPLINE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HELPLINE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("HELPLINE_HSTS_PRELOAD", False)
CSRF_TRUSTED_ORIGINS = env_list("HELPLINE_CSRF_TRUSTED_ORIGINS")
# Preloading HSTS is a commitment an operator makes deliberately; it stays an opt-in.
# Lockout is by username on purpose: we never know a client address (privacy.md).
SILENCED_SYSTEM_CHECKS = ["security.W021", "axes.W006"]
if not REDIS_URL:
    # One process in the embedded default, so a per-process cache does count every attempt.
    SILENCED_SYSTEM_CHECKS.append("axes.W001")

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "no-referrer"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.NONE],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "media-src": [CSP.SELF],
    "manifest-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "object-src": [CSP.NONE],
}

LANGUAGE_CODE = "en"
LANGUAGES = list(SPOKEN)  # helpline/languages.py
USE_I18N = True
TIME_ZONE = env_str("HELPLINE_TIME_ZONE", "Europe/Amsterdam")
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
# Content-hashed names in every mode (helpline/assets.py); `make run` and the tests collect at start.
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False
WHITENOISE_AUTOREFRESH = False
# Hashed names are cached for good (whitenoise sees the hash); any other name may change, so it is never cached.
WHITENOISE_MAX_AGE = 0
WHITENOISE_ALLOW_ALL_ORIGINS = False
WHITENOISE_ADD_HEADERS_FUNCTION = add_static_headers

# Service configuration an operator may change.
SERVICE_NAME = env_str("HELPLINE_SERVICE_NAME", "Stop It Now helpline")
QUICK_EXIT_URL = env_str("HELPLINE_QUICK_EXIT_URL", "https://www.wikipedia.org/")
ORG_PUBLIC_KEY = env_str("HELPLINE_ORG_PUBLIC_KEY")
RESUME_GRACE_SECONDS = env_int("HELPLINE_RESUME_GRACE_SECONDS", 120, minimum=10)
COUNSELLOR_GRACE_SECONDS = env_int("HELPLINE_COUNSELLOR_GRACE_SECONDS", 60, minimum=5)
MAX_QUEUE_LENGTH = env_int("HELPLINE_MAX_QUEUE_LENGTH", 30, minimum=1)
# The chat's tunables (docs/protocol.md, limits; docs/chat.md). Each server process's clock beats every
# CHAT_TICK_SECONDS for all its sockets, then sweeps and routes; a socket silent for three ticks is gone.
CHAT_TICK_SECONDS: float = 5
# Frames of one socket waiting behind the one being handled before its messages are refused by name.
CHAT_INBOX_BACKLOG_LIMIT = 20
# Per socket: frames a second on average, bursts, and wrong frames within a window before a 1008 close.
CHAT_FRAMES_PER_SECOND: float = 10
CHAT_FRAME_BURST: float = 30
CHAT_MAX_WRONG_FRAMES = 5
CHAT_WRONG_FRAME_WINDOW: float = 60
# None: proof-of-work difficulty follows the queue's load; a number fixes it (tests, operators; 0 turns it off).
CHAT_POW_BITS: int | None = None
# What joining and keeping a place cost (docs/protocol.md §9; the economics: docs/threat-model.md, flooding),
# in seconds of work of a modelled mid-range phone that computes CHAT_POW_PHONE_RATE PBKDF2-SHA-256
# iterations a second (measured and sourced: docs/performance.md, attack). At the busiest a join costs
# CHAT_POW_JOIN_SECONDS on average, and a waiting chat's device works CHAT_RENT_DUTY of every
# CHAT_RENT_SECONDS to keep its place (0 seconds: no rent). A chat ended as abusive raises both to the
# busiest level for CHAT_POW_ABUSE_SECONDS.
CHAT_POW_PHONE_RATE = env_int("HELPLINE_CHAT_POW_PHONE_RATE", 6_000_000, minimum=1000)
CHAT_POW_JOIN_SECONDS: float = 2.5
CHAT_RENT_SECONDS = env_int("HELPLINE_CHAT_RENT_SECONDS", 60, minimum=0)
CHAT_RENT_DUTY: float = 0.4
CHAT_POW_ABUSE_SECONDS = env_int("HELPLINE_CHAT_POW_ABUSE_SECONDS", 1800, minimum=0)
SUPPRESSION_THRESHOLD = env_int("HELPLINE_SUPPRESSION_THRESHOLD", 5, minimum=1)
# A chat answered within this many minutes counts as within the service level (chat.service_level).
SERVICE_LEVEL_MINUTES = env_int("HELPLINE_SERVICE_LEVEL_MINUTES", 2, minimum=1)
# The mailbox (docs/mailbox.md): days a thread is kept after its last message; the reply time visitors are
# told (working days); the size cap of one thread. Every visitor request costs the chat's puzzle: writing a
# new thread, replying, and opening or deleting one cost these seconds of the modelled phone's work on average
# (CHAT_POW_PHONE_RATE; docs/mailbox.md §9; the economics: docs/threat-model.md, flooding the mailbox).
MAILBOX_RETENTION_DAYS = env_int("HELPLINE_MAILBOX_RETENTION_DAYS", 30, minimum=1)
MAILBOX_REPLY_DAYS = env_int("HELPLINE_MAILBOX_REPLY_DAYS", 3, minimum=1)
MAILBOX_POW_WRITE_SECONDS = env_int("HELPLINE_MAILBOX_POW_WRITE_SECONDS", 3, minimum=0, maximum=120)
MAILBOX_POW_REPLY_SECONDS = env_int("HELPLINE_MAILBOX_POW_REPLY_SECONDS", 2, minimum=0, maximum=120)
MAILBOX_POW_OPEN_SECONDS = env_int("HELPLINE_MAILBOX_POW_OPEN_SECONDS", 1, minimum=0, maximum=120)
MAILBOX_THREAD_MAX_MESSAGES = 100
MAILBOX_THREAD_MAX_CHARS = 600_000
CAMPAIGN_CODES = env_list("HELPLINE_CAMPAIGN_CODES", ["poster", "radio", "search", "gp", "social"])
# Demo only (dev.py turns it on): certify a counsellor device at once with the demo organisation key.
DEMO_AUTOCERTIFY = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "helpline.logging_privacy.RedactClientAddresses"}},
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"], "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("HELPLINE_LOG_LEVEL", "WARNING")},
    # Replace Django's defaults: no admin mails, and django.request records never reach a
    # handler that could print the request they carry.
    "loggers": {
        "django": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": [], "propagate": False},
        "axes": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
