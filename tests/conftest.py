from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client, TestCase

from accounts.models import User
from audit.models import AuditEvent

PASSWORD = "correct-horse-battery-9"


class ApiClient(Client):
    """Django's test client speaking JSON to /api/v1, running on-commit callbacks (mail tasks) as a real
    commit would."""

    prefix = "/api/v1"

    def call(self, method: str, path: str, body: Any = None, token: str | None = None, **extra: Any) -> Any:
        headers = dict(extra.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {"headers": headers, **extra}
        if body is not None:
            kwargs["data"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
            kwargs["content_type"] = kwargs.get("content_type", "application/json")
        with TestCase.captureOnCommitCallbacks(execute=True):
            return getattr(self, method.lower())(self.prefix + path, **kwargs)

    def post_json(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("post", path, body, **kw)


@pytest.fixture
def api(db: None) -> ApiClient:
    return ApiClient()


@pytest.fixture(scope="session", autouse=True)
def _record_error_answers() -> None:
    """Record every error answer of the run; pytest_sessionfinish checks them against the document."""
    from tests.contract import recorder

    recorder.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from tests.contract import recorder

    if not recorder.RECORDED:
        return
    from config import openapi
    from config.api import api as ninja_api

    document = json.loads(openapi.render(ninja_api))
    lines = []
    unlisted = recorder.unlisted(recorder.RECORDED, document)
    if unlisted:
        lines.append(
            "Errors answered that the OpenAPI document does not list (declare them with errors(...)):"
        )
        lines += [f"  {line}" for line in unlisted]
    untrue = recorder.untrue_examples(recorder.RECORDED, document)
    if untrue:
        lines.append("Error examples whose message the operation never answered with:")
        lines += [f"  {line}" for line in untrue]
    if lines:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _clean_cache() -> None:
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language() -> Any:
    """Every test starts and ends in the default language: a request activates its language for the thread
    and leaves it active, so a German request would otherwise decide how the next test renders outside a
    request."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(
        email: str = "ada@example.com", password: str = PASSWORD, verified: bool = True, **extra: Any
    ) -> User:
        from django.utils import timezone

        if verified:
            extra.setdefault("email_verified_at", timezone.now())
        return User.objects.create_user(email=email, password=password, **extra)

    return make


@pytest.fixture
def login(api: ApiClient) -> Callable[..., dict[str, Any]]:
    def do(login: str = "ada@example.com", password: str = PASSWORD) -> dict[str, Any]:
        response = api.post_json("/auth/token", {"login": login, "password": password})
        assert response.status_code == 200, response.content
        return response.json()

    return do


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user()


@pytest.fixture
def tokens(user: User, login: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return login()


def actions(**filters: Any) -> list[str]:
    """Audit actions written, oldest first."""
    return list(AuditEvent.objects.filter(**filters).order_by("id").values_list("action", flat=True))


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert set(body) == {"code", "message", "details"}, body
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["code"] == code, body
    return body


def outbox_to(address: str) -> list[Any]:
    return [m for m in mail.outbox if address in m.to]


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1
        ):
            return True
    except OSError:
        return False


def on_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


requires_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL: set DATABASE_URL (CI's second run does)",
)
requires_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or not _reachable(os.environ.get("REDIS_URL", ""), 6379),
    reason="needs Redis: set REDIS_URL (CI's second run does)",
)
