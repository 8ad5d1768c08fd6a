from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import TestCase
from standardwebhooks.webhooks import Webhook

from integrations.models import WebhookEndpoint

RECEIVER = Path(__file__).with_name("receiver.py")


@dataclass
class Receiver:
    """A receiver process on 127.0.0.1 (tests/integrations/receiver.py) and the requests it recorded."""

    process: subprocess.Popen[str]
    port: int
    log: Path
    taken: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks?token=abc"

    def requests(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def take(self) -> list[dict[str, Any]]:
        """The requests recorded since the last take."""
        found = self.requests()
        new, self.taken = found[self.taken :], len(found)
        return new

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def receiver_factory(tmp_path: Path) -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(*options: str, port: int = 0) -> Receiver:
        log = tmp_path / f"receiver-{len(started)}.jsonl"
        process = subprocess.Popen(
            [sys.executable, str(RECEIVER), str(log), "--port", str(port), *options],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        found = Receiver(process=process, port=int(process.stdout.readline()), log=log)
        started.append(found)
        return found

    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def receiver(receiver_factory: Callable[..., Receiver]) -> Receiver:
    return receiver_factory()


@pytest.fixture
def allow_private(settings: Any) -> None:
    """The test receivers listen on 127.0.0.1, which production refuses (SSRF)."""
    settings.WEBHOOKS_ALLOW_PRIVATE = True


@dataclass
class Hook:
    endpoint: WebhookEndpoint
    secret: str
    output: str = field(default="")


def add_endpoint(url: str, *events: str) -> Hook:
    """Through `manage.py webhooks add`, reading the secret it prints once."""
    out = io.StringIO()
    call_command("webhooks", "add", url, "--events", ",".join(events) or "*", stdout=out)
    text = out.getvalue()
    secret = text.split("Signing secret (shown once): ", 1)[1].split()[0]
    endpoint = WebhookEndpoint.objects.get(pk=text.split()[1])
    return Hook(endpoint=endpoint, secret=secret, output=text)


def verify(secret: str, request: dict[str, Any]) -> dict[str, Any]:
    """The standardwebhooks library's own check (signature and timestamp); returns the payload."""
    payload = Webhook(secret).verify(request["body"], request["headers"])
    assert isinstance(payload, dict)
    return payload


def on_commit(fn: Callable[[], Any]) -> Any:
    """Run `fn` and then its on-commit callbacks (the outbox kick), as a real commit would."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return fn()
