"""Shared checks for gdpr tests: read the download token from a mail, verify an export ZIP."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from typing import Any

TOKEN_IN_LINK = re.compile(r"/api/v1/gdpr/exports/([A-Za-z0-9_-]{43})")


def token_from(text: str) -> str:
    match = TOKEN_IN_LINK.search(text)
    assert match, text
    return match.group(1)


def rows_in(name: str, data: bytes) -> int:
    if name.endswith(".jsonl"):
        return sum(1 for line in data.splitlines() if line.strip() and json.loads(line) is not None)
    if name.endswith(".csv"):
        return len(list(csv.reader(io.StringIO(data.decode())))) - 1
    if name.endswith(".json"):
        value = json.loads(data)
        return len(value) if isinstance(value, list) else 1
    return 1


def verify_zip(content: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The archive is whole, and every file's sha256 and row count match its manifest entry."""
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert archive.testzip() is None
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["schema_version"] == 1
    assert manifest["generated_at"]
    names = set(archive.namelist()) - {"manifest.json"}
    assert names == set(manifest["files"]), (names, manifest["files"])
    files = {}
    for name, meta in manifest["files"].items():
        data = archive.read(name)
        assert hashlib.sha256(data).hexdigest() == meta["sha256"], name
        assert len(data) == meta["size"], name
        assert rows_in(name, data) == meta["rows"], (name, meta)
        files[name] = data
    return manifest, files


def body(response: Any) -> bytes:
    # The test client closes a streamed response (and its file) once its content is consumed.
    return b"".join(response.streaming_content) if response.streaming else response.content
