"""Settings of the real server process that the SDK test, the fuzzer and the broker-outage test drive: the test
settings (fast hasher) with the embedded default's mailbox (one file per Message-ID under VAR_DIR/mail) and
huey immediate unless HUEY_IMMEDIATE=false (then a separate consumer runs the tasks)."""

from config.settings import HUEY_IMMEDIATE, VAR_DIR
from config.settings_test import *  # noqa: F403
from config.settings_test import HUEY

EMAIL_BACKEND = "core.mail_backends.FileBackend"
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
HUEY = {**HUEY, "immediate": HUEY_IMMEDIATE}
