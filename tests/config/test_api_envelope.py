from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import ApiClient, assert_error


def test_unknown_api_path_is_404_error_out(api: ApiClient) -> None:
    assert_error(api.call("get", "/does-not-exist"), 404, "not_found")


def test_wrong_method_is_405_error_out(api: ApiClient) -> None:
    r = api.call("put", "/me")
    assert_error(r, 405, "method_not_allowed")
    assert "GET" in r["Allow"]
    assert_error(api.call("get", "/auth/token"), 405, "method_not_allowed")


def test_unexpected_error_is_500_error_out_with_request_id(api: ApiClient, tokens, monkeypatch) -> None:
    from accounts import services

    def boom(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "user_update", boom)
    r = api.call(
        "patch", "/me", {"first_name": "x"}, token=tokens["access"], headers={"X-Request-ID": "req-123"}
    )
    body = assert_error(r, 500, "server_error")
    assert body["details"]["request_id"] == "req-123" and "boom" not in r.content.decode()
    assert r["X-Request-ID"] == "req-123"


def test_openapi_document_and_docs_page(db) -> None:
    client = Client()
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    ids = [op["operationId"] for path in doc["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert {"auth_login", "auth_register", "me_get", "me_update", "me_sessions_list"} <= set(ids)
    assert "ErrorOut" in doc["components"]["schemas"]
    assert client.get("/api/v1/docs").status_code == 200


@pytest.mark.parametrize("path", ["/health", "/api/v1/health"])
def test_liveness(db, path) -> None:
    r = Client().get(path)
    assert r.status_code == 200 and r.json()["status"] == "ok"


@pytest.mark.parametrize("path", ["/health/ready", "/api/v1/health/ready"])
def test_readiness_checks_db_cache_queue(db, path) -> None:
    r = Client().get(path)
    assert r.status_code == 200, r.content
    assert r.json()["checks"] == {"database": "ok", "cache": "ok", "queue": "ok"}


def test_readiness_reports_503_when_the_cache_fails(db, monkeypatch) -> None:
    from django.core.cache import cache

    def broken(*args, **kwargs):
        raise ConnectionError("down")

    monkeypatch.setattr(cache, "set", broken)
    r = Client().get("/health/ready")
    assert r.status_code == 503 and r.json()["checks"]["cache"] == "error"
