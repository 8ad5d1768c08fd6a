from __future__ import annotations

from django.core import mail
from huey.contrib.djhuey import HUEY

from tests.conftest import PASSWORD, ApiClient


def test_mail_is_queued_on_commit_and_not_for_a_rolled_back_change(api: ApiClient, make_user) -> None:
    make_user("ada@example.com")
    r = api.post_json("/auth/register", {"email": "ada@example.com", "password": PASSWORD})
    assert r.status_code == 409
    assert mail.outbox == []  # the failed registration queued nothing


def test_failed_send_is_retried_with_backoff(api: ApiClient, settings) -> None:
    settings.EMAIL_BACKEND = "tests.support.mail.DownSMTPBackend"
    HUEY.flush()
    r = api.post_json("/auth/register", {"email": "ada@example.com", "password": PASSWORD})
    assert r.status_code == 201  # the API does not wait for SMTP
    [retry] = HUEY.scheduled()
    assert retry.name.endswith("email_send") and retry.retries == 5 and retry.retry_delay == 60
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    retry.eta = None  # due now
    HUEY.execute(retry)
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    HUEY.flush()
