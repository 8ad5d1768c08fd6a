"""Concurrent first logins with one identity (PostgreSQL: real row locks and unique-index waits)."""

from __future__ import annotations

import threading

import pytest
from allauth.socialaccount.models import SocialAccount
from django.db import connection

from accounts.models import Session, User
from tests.accounts import test_social_support as fake
from tests.accounts.test_social_support import google_id_token
from tests.conftest import ApiClient, requires_postgres

social_apps, rsps, google = fake.social_apps, fake.rsps, fake.google


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_logins_make_one_user(google):
    token = google_id_token()
    barrier = threading.Barrier(4)
    results: list[tuple[int, dict]] = []

    def attempt() -> None:
        try:
            barrier.wait()
            r = ApiClient().post_json("/auth/social/google", {"id_token": token})
            results.append((r.status_code, r.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert [status for status, _ in results] == [200] * 4, results
    assert sum(body["user_created"] for _, body in results) == 1
    user = User.objects.get()
    assert SocialAccount.objects.get().user_id == user.pk
    assert Session.objects.filter(user=user).count() == 4
