"""A TypeScript client generated from docs/openapi.json (openapi-typescript types, the openapi-fetch runtime)
runs register → verify → login → me → refresh → export → download against a real server: the TypeScript
twin of test_sdk_flows.py. The script is tests/sdk/ts/src/flow.ts; the npm packages are pinned in
tests/sdk/ts/package-lock.json.

Steps: `npm ci` when node_modules is missing or older than the lock file (nothing touches the network
otherwise), regenerate the types from docs/openapi.json, `tsc --noEmit` (strict), run the script with tsx
against a LiveServer. Without node and npm the test is skipped, saying so; CI has them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live.server import LiveServer

TS = Path(__file__).resolve().parent / "ts"
ROOT = TS.parents[2]
BIN = TS / "node_modules" / ".bin"
# Written by this test after a successful `npm ci`: the lock file it installed.
STAMP = TS / "node_modules" / ".custodian-lock-sha256"


def _run(args: list[str], *, timeout: float, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        args, cwd=TS, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(args)} failed ({result.returncode}):\n{output}"
    return output


@pytest.fixture(scope="module")
def node_project() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are not installed: the TypeScript client test needs them (CI has them)")
    lock = hashlib.sha256((TS / "package-lock.json").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != lock:
        _run([npm, "ci", "--no-audit", "--no-fund", "--prefer-offline"], timeout=300)
        STAMP.write_text(lock)
    _run([str(BIN / "openapi-typescript"), *_generate_args()], timeout=60)
    return TS


def _generate_args() -> list[str]:
    """The arguments of package.json's `generate` script, so the test and `npm run generate` agree."""
    script = json.loads((TS / "package.json").read_text())["scripts"]["generate"]
    command, *args = script.split()
    assert command == "openapi-typescript", script
    return args


@pytest.fixture(scope="module")
def flow(node_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    out = tmp_path_factory.mktemp("ts-client")
    with LiveServer(log_name="ts-client-server") as server:
        env = {
            **os.environ,
            "CUSTODIAN_URL": server.url,
            "CUSTODIAN_MAIL_DIR": str(server.mail_dir),
            "EXPORT_ZIP": str(out / "export.zip"),
            "CUSTODIAN_EMAIL": "ada.ts@example.com",
        }
        result = subprocess.run(
            [str(BIN / "tsx"), "src/flow.ts"],
            cwd=node_project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        steps = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.log()}"
        assert server.server_errors() == [], server.log()
    yield {"steps": {step.pop("step"): step for step in steps}, "zip": out / "export.zip"}


def test_generated_types_type_check_strictly(node_project: Path) -> None:
    generated = (node_project / "src" / "custodian.ts").read_text()
    assert '"/api/v1/auth/register"' in generated and "gdpr_export_download" in generated
    _run([str(BIN / "tsc"), "--noEmit", "-p", "tsconfig.json"], timeout=120)


def test_account_flow_through_the_typescript_client(flow: dict[str, Any]) -> None:
    steps = flow["steps"]
    assert list(steps) == [
        "register",
        "verify",
        "login_refused",
        "login",
        "me",
        "refresh",
        "export_requested",
        "export_ready",
        "download",
        "done",
    ]
    assert steps["register"]["email_verified"] is False
    assert steps["verify"]["email_verified"] is True
    assert steps["login_refused"]["code"] == "invalid_credentials"
    assert steps["login"]["token_type"] == "Bearer" and steps["login"]["expires_in"] > 0
    assert steps["me"] == {"email": "ada.ts@example.com", "username": "ada_ts", "email_verified": True}
    assert steps["refresh"] == {"same_session": True}
    assert steps["export_requested"]["status"] in {"pending", "running", "ready"}
    assert steps["download"]["content_type"] == "application/zip"
    assert steps["download"]["cache_control"].startswith("no-store")


def test_downloaded_export_is_the_whole_archive(flow: dict[str, Any]) -> None:
    data = flow["zip"].read_bytes()
    assert len(data) == flow["steps"]["download"]["size"]
    assert hashlib.sha256(data).hexdigest() == flow["steps"]["download"]["sha256"]
    with zipfile.ZipFile(flow["zip"]) as archive:
        assert archive.testzip() is None
        manifest = json.loads(archive.read("manifest.json"))
        for name, entry in manifest["files"].items():
            assert hashlib.sha256(archive.read(name)).hexdigest() == entry["sha256"], name
        profile = json.loads(archive.read("profile.json"))
    assert "ada.ts@example.com" in json.dumps(profile)
