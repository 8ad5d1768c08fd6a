from __future__ import annotations

import threading
from datetime import timedelta

import jwt
import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.db import connections
from django.utils import timezone

from accounts.models import Session, User
from audit.models import AuditEvent
from tests.conftest import PASSWORD, ApiClient, actions, assert_error, outbox_to, requires_postgres


def test_login_by_email_or_username_any_case_opens_a_session(api: ApiClient, make_user, login) -> None:
    user = make_user("ada@example.com", username="ada")
    for name in ("ada@example.com", "ADA@Example.com", "ada", "AdA"):
        pair = login(name)
        assert set(pair) == {
            "access",
            "refresh",
            "token_type",
            "expires_in",
            "refresh_expires_at",
            "session_id",
        }
        assert pair["token_type"] == "Bearer" and pair["expires_in"] == settings.ACCESS_TOKEN_MINUTES * 60
    assert Session.objects.filter(user=user, revoked_at__isnull=True).count() == 4
    assert actions(subject_id=user.pk) == ["auth.login"] * 4
    session = Session.objects.first()
    assert session.ip == "127.0.0.1"
    assert len(session.refresh_hash) == 64 and pair["refresh"] not in {
        s.refresh_hash for s in Session.objects.all()
    }


def test_access_token_claims(tokens, user) -> None:
    claims = jwt.decode(
        tokens["access"],
        settings.NINJA_JWT["SIGNING_KEY"],
        algorithms=["HS256"],
        audience="custodian",
        issuer="custodian",
    )
    assert claims["sub"] == str(user.pk) and claims["sid"] == tokens["session_id"]
    assert claims["token_type"] == "access" and {"jti", "iat", "exp"} <= set(claims)
    assert claims["exp"] - claims["iat"] <= 15 * 60


def test_login_failure_body_identical_for_unknown_wrong_deleted_inactive(api: ApiClient, make_user) -> None:
    make_user("live@example.com")
    make_user("off@example.com", is_active=False)
    make_user("gone@example.com", deleted_at=timezone.now())
    attempts = [
        ("nobody@example.com", PASSWORD),
        ("live@example.com", "wrong-password-123"),
        ("gone@example.com", PASSWORD),
        ("off@example.com", PASSWORD),
    ]
    bodies = set()
    for login, password in attempts:
        r = api.post_json("/auth/token", {"login": login, "password": password})
        assert_error(r, 401, "invalid_credentials")
        bodies.add(r.content)
    assert len(bodies) == 1
    assert not Session.objects.exists()
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 4


def test_email_not_verified_only_after_a_correct_password(api: ApiClient, make_user) -> None:
    make_user("new@example.com", verified=False)
    assert_error(
        api.post_json("/auth/token", {"login": "new@example.com", "password": "nope-nope-nope"}),
        401,
        "invalid_credentials",
    )
    assert_error(
        api.post_json("/auth/token", {"login": "new@example.com", "password": PASSWORD}),
        403,
        "email_not_verified",
    )
    assert not Session.objects.exists()


def test_refresh_rotates_and_the_new_pair_works(api: ApiClient, tokens, user) -> None:
    r = api.post_json("/auth/token/refresh", {"refresh": tokens["refresh"]})
    assert r.status_code == 200, r.content
    new = r.json()
    assert new["session_id"] == tokens["session_id"] and new["refresh"] != tokens["refresh"]
    assert api.call("get", "/me", token=new["access"]).status_code == 200
    session = Session.objects.get(pk=tokens["session_id"])
    assert session.rotated_at is not None and session.revoked_at is None
    assert actions(subject_id=user.pk) == ["auth.login", "session.refreshed"]


def test_spent_refresh_token_presented_again_revokes_the_session_and_mails(
    api: ApiClient, tokens, user
) -> None:
    first = api.post_json("/auth/token/refresh", {"refresh": tokens["refresh"]}).json()
    mail.outbox.clear()
    later = timezone.now() + timedelta(seconds=settings.REFRESH_REUSE_GRACE_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        assert_error(
            api.post_json("/auth/token/refresh", {"refresh": tokens["refresh"]}), 401, "token_reused"
        )
        # the successor dies with the session: both the attacker's and the victim's copies are worthless now
        assert_error(
            api.post_json("/auth/token/refresh", {"refresh": first["refresh"]}), 401, "session_revoked"
        )
        assert_error(api.call("get", "/me", token=first["access"]), 401, "session_revoked")
    session = Session.objects.get(pk=tokens["session_id"])
    assert session.revoke_reason == "token_reused"
    assert actions(subject_id=user.pk) == ["auth.login", "session.refreshed", "session.token_reused"]
    [alert] = outbox_to(user.email)
    assert "Security alert" in alert.subject and alert.alternatives


def test_duplicate_within_grace_is_refused_without_revoking(api: ApiClient, tokens) -> None:
    first = api.post_json("/auth/token/refresh", {"refresh": tokens["refresh"]}).json()
    assert_error(api.post_json("/auth/token/refresh", {"refresh": tokens["refresh"]}), 401, "token_invalid")
    assert api.post_json("/auth/token/refresh", {"refresh": first["refresh"]}).status_code == 200


def test_refresh_token_bounded_by_session_absolute_expiry(api: ApiClient, tokens) -> None:
    session = Session.objects.get(pk=tokens["session_id"])
    Session.objects.filter(pk=session.pk).update(expires_at=timezone.now() + timedelta(hours=1))
    pair = api.post_json("/auth/token/refresh", {"refresh": tokens["refresh"]}).json()
    claims = jwt.decode(pair["refresh"], options={"verify_signature": False})
    assert claims["exp"] <= int((timezone.now() + timedelta(hours=1)).timestamp()) + 1
    with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
        assert_error(api.post_json("/auth/token/refresh", {"refresh": pair["refresh"]}), 401, "token_invalid")


def test_expired_access_token_is_401(api: ApiClient, tokens) -> None:
    with time_machine.travel(timezone.now() + timedelta(minutes=settings.ACCESS_TOKEN_MINUTES, seconds=5)):
        assert_error(api.call("get", "/me", token=tokens["access"]), 401, "token_invalid")


def test_token_verify(api: ApiClient, tokens) -> None:
    r = api.post_json("/auth/token/verify", {"token": tokens["access"]})
    assert r.status_code == 200 and r.json()["token_type"] == "access" and r.json()["valid"] is True
    assert api.post_json("/auth/token/verify", {"token": tokens["refresh"]}).json()["token_type"] == "refresh"
    assert_error(api.post_json("/auth/token/verify", {"token": "abc.def.ghi"}), 401, "token_invalid")
    api.call("post", "/auth/logout", token=tokens["access"])
    assert_error(api.post_json("/auth/token/verify", {"token": tokens["access"]}), 401, "session_revoked")


def test_token_verify_calls_a_spent_refresh_token_invalid_and_revokes_nothing(api: ApiClient, tokens) -> None:
    rotated = api.post_json("/auth/token/refresh", {"refresh": tokens["refresh"]})
    assert rotated.status_code == 200, rotated.content

    assert_error(api.post_json("/auth/token/verify", {"token": tokens["refresh"]}), 401, "token_invalid")

    # Only a check: the session stays live, the successor verifies and refreshes, nothing is revoked or mailed.
    session = Session.objects.get(pk=tokens["session_id"])
    assert session.revoked_at is None
    assert "session.token_reused" not in actions()
    assert not mail.outbox
    successor = rotated.json()["refresh"]
    assert api.post_json("/auth/token/verify", {"token": successor}).json()["valid"] is True
    assert api.post_json("/auth/token/verify", {"token": rotated.json()["access"]}).status_code == 200
    assert api.post_json("/auth/token/refresh", {"refresh": successor}).status_code == 200


def _parallel_refresh(refresh: str, n: int) -> list[int]:
    barrier = threading.Barrier(n)
    statuses: list[int] = []

    def worker() -> None:
        client = ApiClient()
        barrier.wait()
        try:
            statuses.append(client.post_json("/auth/token/refresh", {"refresh": refresh}).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_refreshes_on_postgres_give_exactly_one_successor() -> None:
    User.objects.create_user(email="race@example.com", password=PASSWORD, email_verified_at=timezone.now())
    pair = ApiClient().post_json("/auth/token", {"login": "race@example.com", "password": PASSWORD}).json()
    statuses = _parallel_refresh(pair["refresh"], 20)
    assert sorted(statuses) == [200] + [401] * 19, statuses
    session = Session.objects.get(pk=pair["session_id"])
    assert session.revoked_at is None  # concurrent duplicates are not theft
    assert AuditEvent.objects.filter(action="session.refreshed").count() == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_refreshes_on_any_database_give_exactly_one_successor() -> None:
    User.objects.create_user(email="race@example.com", password=PASSWORD, email_verified_at=timezone.now())
    pair = ApiClient().post_json("/auth/token", {"login": "race@example.com", "password": PASSWORD}).json()
    statuses = _parallel_refresh(pair["refresh"], 6)
    assert sorted(statuses) == [200] + [401] * 5, statuses
    assert AuditEvent.objects.filter(action="session.refreshed").count() == 1


def test_unknown_session_in_a_validly_signed_refresh_token(api: ApiClient, tokens) -> None:
    Session.objects.all().delete()
    assert_error(api.post_json("/auth/token/refresh", {"refresh": tokens["refresh"]}), 401, "token_invalid")


@pytest.mark.parametrize(
    "change", [{"is_active": False}, {"deleted_at": timezone.now()}], ids=["inactive", "deleted"]
)
def test_refresh_of_an_open_session_is_refused_once_its_user_is_inactive_or_deleted(
    api: ApiClient, tokens, user, change
) -> None:
    """The swap itself checks the user (the session row is left open here on purpose)."""
    User.objects.filter(pk=user.pk).update(**change)
    before = Session.objects.get(pk=tokens["session_id"]).refresh_hash
    assert_error(api.post_json("/auth/token/refresh", {"refresh": tokens["refresh"]}), 401, "session_revoked")
    assert Session.objects.get(pk=tokens["session_id"]).refresh_hash == before
    assert "session.refreshed" not in actions(subject_id=user.pk)


def test_a_refresh_token_without_the_session_facts_still_rotates(api: ApiClient, tokens, user) -> None:
    """Refresh tokens issued before they carried `amr` and `sxp` are rotated from the session row; the
    successor carries both."""
    from accounts import tokens as token_module

    claims = jwt.decode(tokens["refresh"], options={"verify_signature": False})
    del claims["sxp"], claims["amr"]
    legacy = token_module.token_backend().encode(claims)
    Session.objects.filter(pk=tokens["session_id"]).update(refresh_hash=token_module.token_hash(legacy))
    r = api.post_json("/auth/token/refresh", {"refresh": legacy})
    assert r.status_code == 200, r.content
    session = Session.objects.get(pk=tokens["session_id"])
    successor = jwt.decode(r.json()["refresh"], options={"verify_signature": False})
    assert successor["amr"] == ["pwd"] and successor["sxp"] == int(session.expires_at.timestamp())
    assert session.refresh_hash == token_module.token_hash(r.json()["refresh"])
    assert api.post_json("/auth/token/refresh", {"refresh": r.json()["refresh"]}).status_code == 200
