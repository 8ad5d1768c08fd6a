"""Export download links point at the API itself: PUBLIC_API_URL, in the mail and in the API's answer alike;
unset, the answering request's origin (API) and FRONTEND_URL's origin (mail, built by a background job)."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from config import checks
from tests.gdpr.helpers import token_from

LINK = re.compile(r"https?://[^\s\"<>]+/api/v1/gdpr/exports/[A-Za-z0-9_-]{43}")


def _export(api, tokens, **headers):
    created = api.call("post", "/gdpr/requests", {"type": "export"}, token=tokens["access"]).json()
    # huey runs inline in tests: the export is built on commit and its mail is sent.
    got = api.call("get", f"/gdpr/requests/{created['id']}", token=tokens["access"], **headers).json()
    ready = [m for m in mail.outbox if m.subject == "Your data export is ready"]
    assert got["status"] == "ready" and len(ready) == 1
    mail_links = {*LINK.findall(ready[0].body), *LINK.findall(ready[0].alternatives[0][0])}
    return got["download"]["url"], mail_links


def test_links_in_the_mail_and_the_answer_use_public_api_url(api, user, tokens, settings):
    settings.FRONTEND_URL = "https://app.example"
    settings.PUBLIC_API_URL = "https://api.example.com/custodian"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "internal.example"]
    api_link, mail_links = _export(api, tokens, HTTP_HOST="internal.example")
    token = token_from(api_link)
    assert api_link == f"https://api.example.com/custodian/api/v1/gdpr/exports/{token}"
    assert mail_links == {api_link}
    # The path under the base is the download operation itself.
    assert api.get(f"/api/v1/gdpr/exports/{token}").status_code == 200


def test_unset_the_answer_uses_the_request_origin_and_the_mail_the_frontend_origin(
    api, user, tokens, settings
):
    settings.FRONTEND_URL = "https://app.example/shop"
    settings.PUBLIC_API_URL = ""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "api.internal.example"]
    api_link, mail_links = _export(api, tokens, HTTP_HOST="api.internal.example:8443")
    token = token_from(api_link)
    assert api_link == f"http://api.internal.example:8443/api/v1/gdpr/exports/{token}"
    assert mail_links == {f"https://app.example/api/v1/gdpr/exports/{token}"}


def test_unset_a_tls_proxy_gives_https_links(api, user, tokens, settings):
    settings.PUBLIC_API_URL = ""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    api_link, _ = _export(api, tokens, HTTP_HOST="testserver", HTTP_X_FORWARDED_PROTO="https")
    assert api_link.startswith("https://testserver/api/v1/gdpr/exports/")


@pytest.mark.parametrize(
    "value",
    [
        "api.example.com",
        "ftp://api.example.com",
        "https://",
        "https://api.example.com/?x=1",
        "https://a.example#f",
    ],
)
def test_a_malformed_public_api_url_is_a_check_error(value, settings):
    settings.PUBLIC_API_URL = value
    assert [m.id for m in checks.public_api_url()] == ["config.E001"]


@pytest.mark.parametrize("value", ["", "https://api.example.com", "http://127.0.0.1:8000/custodian"])
def test_a_well_formed_public_api_url_passes_the_check(value, settings):
    settings.PUBLIC_API_URL = value
    assert checks.public_api_url() == []


def test_the_deploy_check_asks_for_public_api_url(settings):
    settings.PUBLIC_API_URL = ""
    assert [m.id for m in checks.public_api_url_set()] == ["config.W001"]
    settings.PUBLIC_API_URL = "https://api.example.com"
    assert checks.public_api_url_set() == []
