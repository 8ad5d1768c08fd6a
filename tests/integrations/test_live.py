"""Production shape: a gunicorn server, a separate huey consumer process (not inline tasks) and a receiver
process. A sign-up through HTTP reaches the receiver as a signed event; a receiver answering 500 first gets
the event again from the retry huey scheduled for later."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integrations.conftest import Receiver, verify
from tests.live.server import PYTHON, ROOT, LiveServer

PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def live() -> Iterator[LiveServer]:
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.integrations.live_settings",
        "WEBHOOKS_ALLOW_PRIVATE": "true",
        "WEBHOOKS_BACKOFF_BASE_SECONDS": "1",
        "RATE_LIMIT_ENABLED": "false",
    }
    with LiveServer(workers=1, log_name="webhooks-server", extra_env=env) as server:
        consumer = subprocess.Popen(
            [PYTHON, str(ROOT / "manage.py"), "run_huey", "--workers", "2", "--worker-type", "thread"],
            env=server.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            yield server
        finally:
            os.killpg(consumer.pid, signal.SIGTERM)
            consumer.wait(timeout=30)


def _post(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def _wait_for(receiver: Receiver, count: int, seconds: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = receiver.requests()
        if len(found) >= count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"the receiver got {len(receiver.requests())} of {count} requests")


def test_a_real_consumer_delivers_and_retries(live: LiveServer, receiver_factory: Callable[..., Receiver]):
    receiver = receiver_factory("--fail-first", "1")
    out = live.manage("webhooks", "add", receiver.url, "--events", "user.created")
    secret = out.split("Signing secret (shown once): ", 1)[1].split()[0]

    assert (
        _post(f"{live.url}/api/v1/auth/register", {"email": "ada@example.com", "password": PASSWORD}) == 201
    )
    first, second = _wait_for(receiver, 2)
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    payload = verify(secret, second)
    assert payload["type"] == "user.created" and payload["data"]["via"] == "password"

    endpoint_id = out.split()[1]
    shown = live.manage("webhooks", "deliveries", endpoint_id)
    assert "delivered" in shown and "attempts=2" in shown and "code=200" in shown
    assert live.server_errors() == []
