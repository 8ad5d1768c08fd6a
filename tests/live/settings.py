"""Settings of the real server process that the SDK test and the fuzzer drive: the test settings (fast
hasher, huey immediate) with mail written as files under VAR_DIR/mail, like the embedded default."""

from config.settings_test import *  # noqa: F403
from config.settings_test import VAR_DIR

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
