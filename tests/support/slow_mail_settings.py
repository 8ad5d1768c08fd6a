"""The production settings with the slow mailbox of tests/support/slow_mail.py (a relay-kill test)."""

import os

from config.settings import *  # noqa: F403

EMAIL_BACKEND = "tests.support.slow_mail.SlowFileBackend"
SLOW_MAIL_SECONDS = float(os.environ.get("SLOW_MAIL_SECONDS", "0.5"))
