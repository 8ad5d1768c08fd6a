"""Settings of the live webhook test: the live server's settings with a real huey (SQLite storage under
VAR_DIR) instead of inline tasks, so a separate consumer process delivers the webhooks."""

from tests.live.settings import *  # noqa: F403
from tests.live.settings import HUEY

HUEY = {**HUEY, "immediate": False}
