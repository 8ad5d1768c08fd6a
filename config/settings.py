"""Custodian settings. Only this package reads the environment; every value is documented in docs/settings.md."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# A development key is generated per checkout so that the embedded default runs without configuration;
# production must set SECRET_KEY (check --deploy and the startup check below say so).
_dev_key_file = VAR_DIR / "dev-secret-key"
if "SECRET_KEY" in env:
    SECRET_KEY = env.str("SECRET_KEY")
else:
    if not _dev_key_file.exists():
        import secrets

        _dev_key_file.write_text(secrets.token_urlsafe(64))
    SECRET_KEY = _dev_key_file.read_text().strip()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
FRONTEND_URL = env.str("FRONTEND_URL", default="http://127.0.0.1:8000").rstrip("/")
# The API's own public base URL, for links to the API itself (export downloads). Unset: the answering
# request's scheme and host, or in mails FRONTEND_URL's origin (core/links.py); a deploy check asks for it.
PUBLIC_API_URL = env.str("PUBLIC_API_URL", default="").rstrip("/")

INSTALLED_APPS = [
    "accounts.apps.StaffAdminConfig",  # django.contrib.admin, its site's doors through accounts.services
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "ninja",
    "ninja_extra",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.facebook",
    "allauth.mfa",
    "django_htmx",
    "template_partials",
    "huey.contrib.djhuey",
    "core",
    "audit",
    "accounts",
    "gdpr",
    "integrations",
    "adminapi",
    "console",
]

MIDDLEWARE = [
    "config.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Activates the language of Accept-Language (API error messages; the console before sign-in).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.WebMessageMiddleware",  # Django's, skipped under /api/
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.ApiErrorEnvelopeMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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

# --- Database -------------------------------------------------------------------------------------------
# Embedded default: SQLite in WAL mode. IMMEDIATE transactions take the write lock at BEGIN, which is what
# stands in for PostgreSQL's row locks (select_for_update is a no-op on SQLite).
DATABASES = {
    "default": env.db_url(
        "DATABASE_URL",
        default=f"sqlite:///{VAR_DIR / 'custodian.sqlite3'}",
    )
}
DB_CONN_MAX_AGE = env.int("DB_CONN_MAX_AGE", default=600)
# SQLite: WAL pages (4 KiB) after which a committing process checkpoints, outside the writers' lock
# (config/sqlite/base.py).
SQLITE_CHECKPOINT_PAGES = env.int("SQLITE_CHECKPOINT_PAGES", default=4000)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue on a file lock rather than sleeping in SQLite's busy handler (config/sqlite/base.py).
    DATABASES["default"]["ENGINE"] = "config.sqlite"
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = DB_CONN_MAX_AGE
else:
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # The health check below looks at the connection's socket instead of sending `SELECT 1`.
        DATABASES["default"]["ENGINE"] = "config.postgresql"
    DATABASES["default"]["CONN_MAX_AGE"] = DB_CONN_MAX_AGE
    # Before the first query of every request: is the persistent connection still alive (config/postgresql)?
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=True)
    _pg_options = DATABASES["default"].setdefault("OPTIONS", {})
    # Server-side parameter binding: psycopg then prepares a statement on the server once it was run
    # DB_PREPARE_THRESHOLD times on a connection, and later runs send only its name and the values.
    if env.bool("DB_SERVER_SIDE_BINDING", default=True):
        _pg_options["server_side_binding"] = True
        # 0: never prepare (PgBouncer in transaction mode without prepared-statement support, docs/settings.md).
        _pg_options["prepare_threshold"] = env.int("DB_PREPARE_THRESHOLD", default=5) or None
    # A psycopg connection pool per process instead of one persistent connection (docs/deployment.md
    # compares them); a pool replaces CONN_MAX_AGE and checks connections itself.
    DB_POOL_SIZE = env.int("DB_POOL_SIZE", default=0)
    if DB_POOL_SIZE:
        _pg_options["pool"] = {"min_size": 1, "max_size": DB_POOL_SIZE, "timeout": 10}
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, queue ---------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="custodian"),
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

HUEY_IMMEDIATE = env.bool("HUEY_IMMEDIATE", default=False)
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": env.str("HUEY_NAME", default="custodian"),
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": env.int("HUEY_WORKERS", default=2), "worker_type": "thread"},
    }
else:
    HUEY = {
        # huey's SQLite queue, except that a queue file that cannot be opened does not stop start-up.
        "huey_class": "config.huey.SqliteHuey",
        "name": env.str("HUEY_NAME", default="custodian"),
        "filename": env.str("HUEY_SQLITE_PATH", default=str(VAR_DIR / "huey.sqlite3")),
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": env.int("HUEY_WORKERS", default=2), "worker_type": "thread"},
    }

# --- Auth -----------------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# The one backend: the console's and the admin's logins go through accounts.services.credentials_check
# (allauth's backend is left out: it would find deleted users; social login does not use authenticate()).
AUTHENTICATION_BACKENDS = ["accounts.backends.LiveUserBackend"]
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2PasswordHasher",  # Django's Argon2id with one lane (see the class)
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
PASSWORD_MIN_LENGTH = env.int("PASSWORD_MIN_LENGTH", default=10)
PASSWORD_MAX_LENGTH = env.int("PASSWORD_MAX_LENGTH", default=128)
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "username", "first_name", "last_name")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.validators.MaximumLengthValidator", "OPTIONS": {"max_length": PASSWORD_MAX_LENGTH}},
]
# Our User has no unique USERNAME_FIELD (uniqueness is a partial index among live users), which Django's
# check reports as a warning when a custom backend is configured.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
LOGIN_URL = "/console/login/"

# JWT (docs/api.md, "Token lifetimes"). HS256 with a dedicated key by default; RS256 when JWT_PRIVATE_KEY is set (JWT_PUBLIC_KEY is
# optional: derived from the private key, checked against it when set). accounts/jwks.py loads the keys,
# gives each a kid and publishes the RSA public keys at /.well-known/jwks.json.
JWT_PRIVATE_KEY = env.str("JWT_PRIVATE_KEY", default="").replace("\\n", "\n")
JWT_PUBLIC_KEY = env.str("JWT_PUBLIC_KEY", default="").replace("\\n", "\n")
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default=SECRET_KEY)
# Key rotation (docs/deployment.md): the previous key only verifies, for as long as tokens it signed live.
# JWT_PREVIOUS_SIGNING_KEY also verifies next to an RSA current key (moving from HS256 to RS256).
JWT_PREVIOUS_SIGNING_KEY = env.str("JWT_PREVIOUS_SIGNING_KEY", default="")
JWT_PREVIOUS_PUBLIC_KEY = env.str("JWT_PREVIOUS_PUBLIC_KEY", default="").replace("\\n", "\n")
ACCESS_TOKEN_MINUTES = env.int("ACCESS_TOKEN_MINUTES", default=5)
REFRESH_TOKEN_DAYS = env.int("REFRESH_TOKEN_DAYS", default=14)
SESSION_ABSOLUTE_DAYS = env.int("SESSION_ABSOLUTE_DAYS", default=30)
# A refresh token presented again within this many seconds of its rotation is treated as a concurrent
# duplicate (401 token_invalid), not as theft; later, it revokes the session.
REFRESH_REUSE_GRACE_SECONDS = env.int("REFRESH_REUSE_GRACE_SECONDS", default=10)
NINJA_JWT = {
    "ALGORITHM": "RS256" if JWT_PRIVATE_KEY else "HS256",
    "SIGNING_KEY": JWT_PRIVATE_KEY or JWT_SIGNING_KEY,
    "VERIFYING_KEY": JWT_PUBLIC_KEY or "",
    "AUDIENCE": env.str("JWT_AUDIENCE", default="custodian"),
    "ISSUER": env.str("JWT_ISSUER", default="custodian"),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=ACCESS_TOKEN_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=REFRESH_TOKEN_DAYS),
    "LEEWAY": 0,
}
# Cache-Control max-age of /.well-known/jwks.json and /.well-known/openid-configuration.
JWKS_MAX_AGE_SECONDS = env.int("JWKS_MAX_AGE_SECONDS", default=300)
EMAIL_VERIFY_MAX_AGE_HOURS = env.int("EMAIL_VERIFY_MAX_AGE_HOURS", default=72)
SESSION_TOUCH_SECONDS = env.int("SESSION_TOUCH_SECONDS", default=60)

# allauth is used for its social providers and models only; its URLs are not mounted.
SITE_ID = 1
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"
ACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_STORE_TOKENS = False

# --- E-mail ---------------------------------------------------------------------------------------------
if "EMAIL_URL" in env:
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "core.mail_backends.FileBackend"  # one file per message, named by its Message-ID
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Custodian <no-reply@custodian.local>")

# --- Outbox: side effects owed by committed changes (core/outbox.py) -------------------------------------
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=12)
OUTBOX_BACKOFF_BASE_SECONDS = env.float("OUTBOX_BACKOFF_BASE_SECONDS", default=10.0)
OUTBOX_BACKOFF_MAX_SECONDS = env.float("OUTBOX_BACKOFF_MAX_SECONDS", default=3600.0)
# A relay holds the rows it claimed this long; past it another relay may take them (the first one died).
OUTBOX_LEASE_SECONDS = env.int("OUTBOX_LEASE_SECONDS", default=300)
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", default=100)
OUTBOX_RETENTION_DAYS = env.int("OUTBOX_RETENTION_DAYS", default=7)

# --- Files ----------------------------------------------------------------------------------------------
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))
STORAGE_BACKEND = env.str("STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage")
STORAGES = {
    "default": {"BACKEND": STORAGE_BACKEND},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# S3 or an S3-compatible store through django-storages (docs/settings.md). django-storages reads these Django
# settings; the credentials it takes from boto3's own chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
# AWS_SESSION_TOKEN in the environment, a profile, or the instance role), so they are not settings here.
if STORAGE_BACKEND.startswith("storages.backends.s3"):
    import importlib.util

    from django.core.exceptions import ImproperlyConfigured

    if importlib.util.find_spec("boto3") is None:
        raise ImproperlyConfigured(f"STORAGE_BACKEND={STORAGE_BACKEND} needs boto3: pip install -e '.[s3]'")
    AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME")
    AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None
    AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
    AWS_LOCATION = env.str("AWS_LOCATION", default="")
    # No ACL header by default: the bucket decides (new AWS buckets are private and refuse ACLs).
    AWS_DEFAULT_ACL = env.str("AWS_DEFAULT_ACL", default="") or None
    # Stored names are never reused: a taken name gets a suffix (avatars and exports keep what save() returns).
    AWS_S3_FILE_OVERWRITE = env.bool("AWS_S3_FILE_OVERWRITE", default=False)
    AWS_QUERYSTRING_AUTH = env.bool("AWS_QUERYSTRING_AUTH", default=True)
    AWS_QUERYSTRING_EXPIRE = env.int("AWS_QUERYSTRING_EXPIRE", default=3600)
    AWS_S3_CUSTOM_DOMAIN = env.str("AWS_S3_CUSTOM_DOMAIN", default="") or None
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)

# --- HTTP, security -------------------------------------------------------------------------------------
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
NINJA_NUM_PROXIES = TRUSTED_PROXY_COUNT
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^health"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = False
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# check --deploy wants preload; we leave the choice to operators (docs/settings.md).
SILENCED_SYSTEM_CHECKS += ["security.W021"]

# --- Audit ----------------------------------------------------------------------------------------------
AUDIT_HMAC_KEY = env.str("AUDIT_HMAC_KEY", default=SECRET_KEY)

# Languages shipped (docs/i18n.md): English is the default and the fallback; the catalogues live in locale/.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Logs go to stderr, as plain lines or JSON lines (config/logging.py; docs/settings.md).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in {"plain", "json"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Export download tokens are redacted from every log line (config/logredact.py) by the console handler
    # every record reaches; the access line (config/logging.py) carries none to begin with.
    "filters": {
        "redact_download_tokens": {"()": "config.logredact.RedactDownloadTokens"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "plain": {"()": "config.logging.PlainFormatter"},
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact_download_tokens"],
        },
        "security_reason": {"()": "config.logging.SecurityReasonHandler"},
        # Django's error report of a 500 (redacted: DEFAULT_EXCEPTION_REPORTER), mailed to ADMINS if any.
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false", "redact_download_tokens"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handlers (with DEBUG, a bare copy of every django.* record) give way to the root's.
        "django": {"handlers": []},
        # A request's outcome is logged once, by custodian.access: these repeated it in other formats. They
        # log nothing at CRITICAL, so no record is even made.
        "django.request": {"level": "CRITICAL"},
        "django.server": {"level": "CRITICAL"},
        "django.security": {"handlers": ["security_reason"], "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "huey": {"level": LOG_LEVEL},
        "custodian.access": {"handlers": ["mail_admins"]},
    },
}
# Error reports (mailed to ADMINS, or the DEBUG page) show the request's URL and META.
DEFAULT_EXCEPTION_REPORTER = "config.logredact.RedactingExceptionReporter"

# --- Benchmarks -----------------------------------------------------------------------------------------
# Mounts the bare ceiling endpoint of bench/ at /api/v1/bench/bare (outside the OpenAPI document). Only the
# benchmark turns it on.
BENCH_ENDPOINTS = env.bool("BENCH_ENDPOINTS", default=False)

# --- Social login (docs/social.md) ----------------------------------------------------------------------
# Provider credentials come from the environment; a provider without a client id is not enabled (404).
# SocialApp rows added in the admin work as well (allauth blends both sources).
SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, object]] = {}
for _provider, _id_var, _secret_var in (
    ("google", "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"),
    ("github", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"),
    ("facebook", "FACEBOOK_APP_ID", "FACEBOOK_APP_SECRET"),
):
    SOCIALACCOUNT_PROVIDERS[_provider] = {}
    if env.str(_id_var, default=""):
        SOCIALACCOUNT_PROVIDERS[_provider]["APP"] = {
            "client_id": env.str(_id_var),
            "secret": env.str(_secret_var, default=""),
        }
# allauth marks Facebook addresses unverified; an operator who trusts Facebook's confirmation can say so.
SOCIALACCOUNT_PROVIDERS["facebook"]["VERIFIED_EMAIL"] = env.bool("FACEBOOK_EMAIL_VERIFIED", default=False)
SOCIALACCOUNT_QUERY_EMAIL = True
# Never log into an existing local account because a provider reports the same address (409 email_conflict).
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
# Timeout in seconds of every outbound call to a provider (allauth's sessions and our JWKS fetch).
SOCIALACCOUNT_REQUESTS_TIMEOUT = env.float("SOCIAL_HTTP_TIMEOUT_SECONDS", default=5.0)
SOCIAL_GOOGLE_JWKS_URL = env.str(
    "SOCIAL_GOOGLE_JWKS_URL", default="https://www.googleapis.com/oauth2/v3/certs"
)
SOCIAL_GOOGLE_ISSUERS = ["https://accounts.google.com", "accounts.google.com"]
SOCIAL_JWKS_CACHE_SECONDS = env.int("SOCIAL_JWKS_CACHE_SECONDS", default=3600)

# --- Multi-factor authentication: TOTP, recovery codes, WebAuthn (docs/mfa.md) --------------------------
# allauth's mfa app provides the Authenticator model and the TOTP, recovery-code and WebAuthn primitives; its
# views and URLs are not mounted (the API in accounts/mfa/ is the one door). MFA_ADAPTER, MFA_SUPPORTED_TYPES,
# MFA_PASSKEY_LOGIN_ENABLED, MFA_TOTP_*, MFA_RECOVERY_CODE_COUNT and MFA_WEBAUTHN_USER_VERIFICATION are allauth's
# settings; the other MFA_* are Custodian's.
MFA_ADAPTER = "accounts.mfa.adapter.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_PERIOD = 30
MFA_TOTP_DIGITS = 6
# A code of the previous or the next 30-second step is accepted too (clock drift), each only once.
MFA_TOTP_TOLERANCE = 1
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="Custodian")
MFA_RECOVERY_CODE_COUNT = env.int("MFA_RECOVERY_CODE_COUNT", default=10)
MFA_WEBAUTHN_USER_VERIFICATION = "preferred"
# WebAuthn relying party: the domain passkeys are bound to (the client app's, not this API's) and the exact
# origins whose pages may answer a WebAuthn challenge.
MFA_WEBAUTHN_RP_ID = env.str("MFA_WEBAUTHN_RP_ID", default=urlsplit(FRONTEND_URL).hostname or "localhost")
MFA_WEBAUTHN_RP_NAME = env.str("MFA_WEBAUTHN_RP_NAME", default="Custodian")
MFA_WEBAUTHN_ORIGINS = env.list(
    "MFA_WEBAUTHN_ORIGINS", default=[f"{urlsplit(FRONTEND_URL).scheme}://{urlsplit(FRONTEND_URL).netloc}"]
)
MFA_WEBAUTHN_MAX_CREDENTIALS = env.int("MFA_WEBAUTHN_MAX_CREDENTIALS", default=10)
# Lifetime of the mfa_token of a half-done login (and of a passkey login's challenge), and of a started
# TOTP or WebAuthn enrollment.
MFA_LOGIN_TIMEOUT_SECONDS = env.int("MFA_LOGIN_TIMEOUT_SECONDS", default=300)
MFA_SETUP_TIMEOUT_SECONDS = env.int("MFA_SETUP_TIMEOUT_SECONDS", default=600)

# --- GDPR: exports, erasure, consent, retention (docs/gdpr.md) ------------------------------------------
GDPR_EXPORTERS = env.list(
    "GDPR_EXPORTERS",
    default=[
        "gdpr.exporters.ProfileExporter",
        "gdpr.exporters.SessionsExporter",
        "gdpr.exporters.ConsentsExporter",
        "gdpr.exporters.AuditEventsExporter",
        "gdpr.exporters.SocialAccountsExporter",
        "gdpr.exporters.AuthenticatorsExporter",
        "gdpr.exporters.AvatarExporter",
    ],
)
GDPR_ERASERS = env.list(
    "GDPR_ERASERS",
    default=[
        "gdpr.erasers.ExportFilesEraser",
        "gdpr.erasers.AvatarEraser",
        "gdpr.erasers.SocialAccountsEraser",
        "gdpr.erasers.AuthenticatorsEraser",
        "gdpr.erasers.SessionsEraser",
        "gdpr.erasers.ConsentsEraser",
        "gdpr.erasers.OutboxEraser",
        "gdpr.erasers.UserEraser",
    ],
)
GDPR_EXPORT_DIR = env.str("GDPR_EXPORT_DIR", default="gdpr/exports")
GDPR_EXPORT_TTL_DAYS = env.int("GDPR_EXPORT_TTL_DAYS", default=7)
GDPR_EXPORT_MAX_DOWNLOADS = env.int("GDPR_EXPORT_MAX_DOWNLOADS", default=3)
GDPR_EXPORT_CHUNK_SIZE = env.int("GDPR_EXPORT_CHUNK_SIZE", default=2000)
# zlib level of the export ZIP; 1 measured fastest at about the same size as 6 (docs/deployment.md).
GDPR_EXPORT_COMPRESSLEVEL = env.int("GDPR_EXPORT_COMPRESSLEVEL", default=1)
# Test-only: seconds to sleep after each exported chunk (makes an export slow enough to kill mid-way).
GDPR_EXPORT_CHUNK_DELAY = env.float("GDPR_EXPORT_CHUNK_DELAY", default=0.0)
GDPR_ERASURE_GRACE_DAYS = env.int("GDPR_ERASURE_GRACE_DAYS", default=7)
GDPR_REQUESTS_PER_DAY = env.int("GDPR_REQUESTS_PER_DAY", default=3)
# A job holds its request for this long and renews while it works; past it the sweeper re-enqueues.
GDPR_LEASE_SECONDS = env.int("GDPR_LEASE_SECONDS", default=300)
GDPR_MAX_ATTEMPTS = env.int("GDPR_MAX_ATTEMPTS", default=5)
GDPR_CONSENT_PURPOSES = env.list(
    "GDPR_CONSENT_PURPOSES", default=["marketing_email", "product_analytics", "third_party_sharing"]
)
GDPR_CONSENT_POLICY_VERSION = env.str("GDPR_CONSENT_POLICY_VERSION", default="2026-01")
# Ended (revoked or expired) sessions are deleted this many days after they ended.
SESSION_RETENTION_DAYS = env.int("SESSION_RETENTION_DAYS", default=90)
# Audit events older than this are deleted by the retention job; 0 keeps them forever.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=730)

# --- Account security: password and e-mail flows, avatars, rate limits (docs/security.md) ----------------
# Password-reset links die after this many seconds (at most one hour), on login and on password change.
PASSWORD_RESET_TIMEOUT = min(env.int("PASSWORD_RESET_TIMEOUT", default=3600), 3600)
EMAIL_CHANGE_MAX_AGE_HOURS = env.int("EMAIL_CHANGE_MAX_AGE_HOURS", default=24)
# POST /me/email needs the password, or a session opened by a login at most this many seconds ago.
REAUTH_WINDOW_SECONDS = env.int("REAUTH_WINDOW_SECONDS", default=600)
NEW_SIGNIN_MAIL = env.bool("NEW_SIGNIN_MAIL", default=False)
AVATAR_MAX_BYTES = env.int("AVATAR_MAX_BYTES", default=5 * 1024 * 1024)
AVATAR_MAX_PIXELS = env.int("AVATAR_MAX_PIXELS", default=25_000_000)
AVATAR_MAX_SIDE = env.int("AVATAR_MAX_SIDE", default=1024)
AVATAR_THUMBNAIL_SIDE = env.int("AVATAR_THUMBNAIL_SIDE", default=128)
AVATAR_FORMATS = env.list("AVATAR_FORMATS", default=["PNG", "JPEG", "WEBP"])
# Fixed-window request limits per client IP and per address/account ("count/period": s, min, hour, day
# with an optional multiplier, e.g. "5/5min"). Counters live in the default cache; a cache outage fails open.
RATE_LIMIT_ENABLED = env.bool("RATE_LIMIT_ENABLED", default=True)
RATE_LIMITS = {
    scope: env.str(f"RATE_LIMIT_{scope.upper()}", default=default)
    for scope, default in {
        # Every anonymous API request per client IP, on top of the limits below (bearer requests: not counted).
        "anon_ip": "300/min",
        "login_ip": "10/min",
        "register_ip": "10/hour",
        "register_address": "10/hour",
        "resend_ip": "10/hour",
        "resend_address": "3/hour",
        "password_reset_ip": "10/hour",
        "password_reset_address": "3/hour",
        # POST /me/email mails an address the requester chose: per account, and per target address.
        "email_change_account": "5/hour",
        "email_change_address": "3/hour",
    }.items()
}
# Login lockout: this many failed passwords for one account (e-mail or username, any letter case) within
# the window lock it for LOGIN_LOCKOUT_SECONDS, even for the correct password; a success resets the count.
LOGIN_LOCKOUT_FAILURES = env.int("LOGIN_LOCKOUT_FAILURES", default=5)
LOGIN_LOCKOUT_WINDOW_SECONDS = env.int("LOGIN_LOCKOUT_WINDOW_SECONDS", default=300)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=300)
# A lock mails the account's owner, at most once per this many seconds (an attacker who keeps an account
# locked sends one mail an hour, not one per lock).
LOGIN_LOCKOUT_MAIL_INTERVAL_SECONDS = env.int("LOGIN_LOCKOUT_MAIL_INTERVAL_SECONDS", default=3600)
# PUT /me/avatar is multipart: Django parses request.FILES only for POST; Ninja's middleware fixes that
# (for PUT only, the one method that carries files here).
MIDDLEWARE += ["ninja.compatibility.files.fix_request_files_middleware"]
NINJA_FIX_REQUEST_FILES_METHODS = {"PUT"}

# --- API contract ---------------------------------------------------------------------------------------
# config is an app too, for its management commands (export_openapi).
INSTALLED_APPS += ["config"]

# --- Audit chain and staff console ----------------------------------------------------------------------
# Events younger than this are not sealed yet: a transaction still open may commit a lower id.
AUDIT_SEAL_LAG_SECONDS = env.int("AUDIT_SEAL_LAG_SECONDS", default=10)
AUDIT_SEAL_EVERY_MINUTES = env.int("AUDIT_SEAL_EVERY_MINUTES", default=1)
CONSOLE_PAGE_SIZE = env.int("CONSOLE_PAGE_SIZE", default=25)
# Staff pass a second factor at the console's login; one without any is walked through TOTP enrollment before
# any other console or admin page (docs/console.md, "Second factor"). Off by default only with DEBUG.
CONSOLE_REQUIRE_MFA = env.bool("CONSOLE_REQUIRE_MFA", default=not DEBUG)
# The console in the staff member's profile language (after AuthenticationMiddleware; docs/i18n.md).
MIDDLEWARE += [
    "console.middleware.ConsoleLanguageMiddleware",
    "console.middleware.ConsoleSecurityHeadersMiddleware",
    "console.middleware.StaffMfaMiddleware",
]
# --- Outbound webhooks (integrations/, docs/integration.md) ----------------------------------------------
# URLs resolving to loopback, private, link-local or other non-public addresses are refused unless this is
# set (SSRF); set it only when the receivers live in your own private network.
WEBHOOKS_ALLOW_PRIVATE = env.bool("WEBHOOKS_ALLOW_PRIVATE", default=False)
# Endpoint signing secrets are stored encrypted under a key derived from this; the fallbacks still decrypt.
WEBHOOKS_SECRET_KEY = env.str("WEBHOOKS_SECRET_KEY", default=SECRET_KEY)
WEBHOOKS_SECRET_KEY_FALLBACKS = env.list("WEBHOOKS_SECRET_KEY_FALLBACKS", default=[])
WEBHOOKS_SECRET_GRACE_HOURS = env.float("WEBHOOKS_SECRET_GRACE_HOURS", default=24.0)
WEBHOOKS_CONNECT_TIMEOUT_SECONDS = env.float("WEBHOOKS_CONNECT_TIMEOUT_SECONDS", default=3.0)
WEBHOOKS_READ_TIMEOUT_SECONDS = env.float("WEBHOOKS_READ_TIMEOUT_SECONDS", default=10.0)
WEBHOOKS_MAX_RESPONSE_BYTES = env.int("WEBHOOKS_MAX_RESPONSE_BYTES", default=64 * 1024)
WEBHOOKS_BACKOFF_BASE_SECONDS = env.float("WEBHOOKS_BACKOFF_BASE_SECONDS", default=10.0)
WEBHOOKS_BACKOFF_MAX_SECONDS = env.float("WEBHOOKS_BACKOFF_MAX_SECONDS", default=3600.0)
# A delivery without a 2xx answer this long after it was first due (or replayed) is dead-lettered.
WEBHOOKS_MAX_AGE_SECONDS = env.int("WEBHOOKS_MAX_AGE_SECONDS", default=24 * 3600)
WEBHOOKS_RETENTION_DAYS = env.int("WEBHOOKS_RETENTION_DAYS", default=30)
