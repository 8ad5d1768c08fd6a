"""STORAGE_BACKEND=storages.backends.s3.S3Storage takes the rest of its configuration from the AWS_* variables
that docs/settings.md lists; settings fail at startup, naming what is missing, rather than at the first upload."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
S3 = "storages.backends.s3.S3Storage"
PRINT_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings as s;"
    "print(json.dumps({'STORAGES': s.STORAGES, **{k: getattr(s, k) for k in dir(s) if k.startswith('AWS_')}}))"
)


def _settings(env: dict[str, str], *, fake_boto3: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "STORAGE_BACKEND"}
    extra = {"PYTHONPATH": f"{fake_boto3}{os.pathsep}{ROOT}"} if fake_boto3 else {}
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env, **extra},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def fake_boto3(tmp_path: Path) -> Path:
    """A stand-in `boto3` package: settings only look for it; nothing here talks to S3."""
    (tmp_path / "boto3").mkdir()
    (tmp_path / "boto3" / "__init__.py").write_text("")
    return tmp_path


def test_file_system_storage_is_the_default_and_reads_no_aws_settings() -> None:
    result = _settings({"AWS_STORAGE_BUCKET_NAME": "ignored"})
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["STORAGES"]["default"] == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    assert "AWS_STORAGE_BUCKET_NAME" not in values


def test_s3_reads_the_documented_variables(fake_boto3: Path) -> None:
    env = {
        "STORAGE_BACKEND": S3,
        "AWS_STORAGE_BUCKET_NAME": "custodian-media",
        "AWS_S3_REGION_NAME": "eu-central-1",
        "AWS_S3_ENDPOINT_URL": "https://minio.internal:9000",
        "AWS_LOCATION": "prod",
        "AWS_S3_CUSTOM_DOMAIN": "media.example.com",
        "AWS_QUERYSTRING_AUTH": "false",
        "AWS_QUERYSTRING_EXPIRE": "600",
    }
    result = _settings(env, fake_boto3=fake_boto3)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["STORAGES"]["default"] == {"BACKEND": S3}
    assert values["AWS_STORAGE_BUCKET_NAME"] == "custodian-media"
    assert values["AWS_S3_REGION_NAME"] == "eu-central-1"
    assert values["AWS_S3_ENDPOINT_URL"] == "https://minio.internal:9000"
    assert values["AWS_LOCATION"] == "prod"
    assert values["AWS_S3_CUSTOM_DOMAIN"] == "media.example.com"
    assert values["AWS_QUERYSTRING_AUTH"] is False
    assert values["AWS_QUERYSTRING_EXPIRE"] == 600
    # Our defaults: no ACL header (the bucket's policy decides), never overwrite a stored name.
    assert values["AWS_DEFAULT_ACL"] is None
    assert values["AWS_S3_FILE_OVERWRITE"] is False
    # Credentials stay with boto3's own lookup (environment, profile, instance role).
    assert "AWS_ACCESS_KEY_ID" not in values and "AWS_SECRET_ACCESS_KEY" not in values


def test_s3_defaults(fake_boto3: Path) -> None:
    result = _settings({"STORAGE_BACKEND": S3, "AWS_STORAGE_BUCKET_NAME": "b"}, fake_boto3=fake_boto3)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["AWS_S3_REGION_NAME"] is None and values["AWS_S3_ENDPOINT_URL"] is None
    assert values["AWS_S3_CUSTOM_DOMAIN"] is None and values["AWS_LOCATION"] == ""
    assert values["AWS_QUERYSTRING_AUTH"] is True and values["AWS_QUERYSTRING_EXPIRE"] == 3600


def test_s3_without_a_bucket_fails_at_startup_naming_the_variable(fake_boto3: Path) -> None:
    result = _settings({"STORAGE_BACKEND": S3}, fake_boto3=fake_boto3)
    assert result.returncode != 0
    assert "AWS_STORAGE_BUCKET_NAME" in result.stderr


@pytest.mark.skipif(importlib.util.find_spec("boto3") is not None, reason="boto3 is installed here")
def test_s3_without_boto3_fails_at_startup_saying_so() -> None:
    result = _settings({"STORAGE_BACKEND": S3, "AWS_STORAGE_BUCKET_NAME": "b"})
    assert result.returncode != 0
    assert "needs boto3" in result.stderr
