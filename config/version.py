"""The one version number of Custodian: `version` in the `[project]` table of pyproject.toml. The OpenAPI
document's `info.version` (and anything else that states a version) reads it from here."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
DISTRIBUTION = "custodian"


def version() -> str:
    """The project runs from its checkout, so pyproject.toml is read first (it is never stale, unlike the
    metadata of an editable install made before a version bump); without it, the installed distribution's
    metadata answers."""
    if PYPROJECT.exists():
        return str(tomllib.loads(PYPROJECT.read_text())["project"]["version"])
    return importlib.metadata.version(DISTRIBUTION)
