"""The benchmark's bare endpoint exists only behind BENCH_ENDPOINTS and never in the API contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ninja.testing import TestClient

from bench.endpoints import api as bench_api
from tests.conftest import ApiClient, assert_error

ROOT = Path(__file__).resolve().parents[2]


def test_not_mounted_by_default_and_not_in_the_openapi_document(api: ApiClient) -> None:
    assert_error(api.call("get", "/bench/bare"), 404, "not_found")
    schema = api.call("get", "/openapi.json").json()
    assert not [p for p in schema["paths"] if "bench" in p]
    assert "bench" not in json.dumps(schema).lower()


def test_not_in_the_committed_openapi_document() -> None:
    committed = ROOT / "docs" / "openapi.json"
    if committed.exists():
        assert "/bench" not in committed.read_text()


def test_the_bare_endpoint_answers_and_has_no_document() -> None:
    response = TestClient(bench_api).get("/bare")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert bench_api.openapi_url is None and bench_api.docs_url is None


def test_mounted_when_the_setting_is_on() -> None:
    code = (
        "import django; django.setup(); from django.urls import resolve; "
        "print(resolve('/api/v1/bench/bare').namespace, resolve('/api/v1/me').namespace)"
    )
    env = {**os.environ, "BENCH_ENDPOINTS": "true", "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["bench", "api"], out
