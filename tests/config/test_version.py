"""One version source: pyproject.toml's [project] version is what the OpenAPI document states."""

from __future__ import annotations

import importlib.metadata
import json
import tomllib
from pathlib import Path

from config import version

ROOT = Path(__file__).resolve().parents[2]


def _pyproject_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def test_the_served_schema_states_the_package_version(api) -> None:
    served = api.get("/api/v1/openapi.json").json()
    assert served["info"]["version"] == _pyproject_version()


def test_the_committed_schema_states_the_package_version() -> None:
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed["info"]["version"] == _pyproject_version()


def test_without_pyproject_the_installed_metadata_answers(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(version, "PYPROJECT", tmp_path / "missing.toml")
    assert version.version() == importlib.metadata.version("custodian")
