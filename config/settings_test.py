"""Test settings: the environment-driven settings with fast hashing, inline huey and an in-memory mailbox."""

from config.settings import *  # noqa: F403
from config.settings import DATABASES, HUEY, VAR_DIR, env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
HUEY = {**HUEY, "immediate": True}
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Console tests sign staff in with force_login or the password form; the MFA tests turn this on.
CONSOLE_REQUIRE_MFA = False
MEDIA_ROOT = str(VAR_DIR / "test-media")
if DATABASES["default"]["ENGINE"] == "config.sqlite":
    # A file, not shared-cache memory: threaded tests need SQLite's real locking.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    # Lets several checkouts run the suite against one PostgreSQL server at once.
    DATABASES["default"]["TEST"] = {"NAME": env.str("DATABASE_TEST_NAME", default="test_custodian")}
