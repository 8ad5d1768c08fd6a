from __future__ import annotations

from django.core import mail

from accounts.models import Session, User
from audit.models import AuditEvent
from tests.accounts.test_registration import verification_key
from tests.conftest import PASSWORD, ApiClient, actions, assert_error


def _register_and_verify(api: ApiClient, email: str, username: str) -> str:
    r = api.post_json("/auth/register", {"email": email, "password": PASSWORD, "username": username})
    assert r.status_code == 201, r.content
    assert api.post_json("/auth/email/verify", {"key": verification_key(email)}).status_code == 200
    return r.json()["id"]


def test_soft_delete_frees_email_and_username_and_login_picks_the_new_account(api: ApiClient) -> None:
    old_id = _register_and_verify(api, "ada@example.com", "ada")
    old = api.post_json("/auth/token", {"login": "ada", "password": PASSWORD}).json()

    r = api.call("delete", "/me", {"password": PASSWORD}, token=old["access"])
    assert r.status_code == 202, r.content
    deleted = User.objects.get(pk=old_id)
    assert deleted.deleted_at is not None and deleted.email == "ada@example.com"  # row kept (soft)
    assert_error(api.call("get", "/me", token=old["access"]), 401, "session_revoked")
    assert_error(api.post_json("/auth/token/refresh", {"refresh": old["refresh"]}), 401, "session_revoked")
    assert_error(
        api.post_json("/auth/token", {"login": "ada", "password": PASSWORD}), 401, "invalid_credentials"
    )

    new_id = _register_and_verify(api, "ADA@example.com", "ada")
    assert new_id != old_id
    assert User.objects.filter(username__iexact="ada").count() == 2  # one deleted, one live
    for login in ("ada", "ada@example.com", "ADA@EXAMPLE.COM"):
        pair = api.post_json("/auth/token", {"login": login, "password": PASSWORD}).json()
        me = api.call("get", "/me", token=pair["access"]).json()
        assert me["id"] == new_id
    assert_error(api.call("get", "/me", token=old["access"]), 401)

    assert actions(subject_id=old_id) == [
        "user.registered",
        "user.email_verified",
        "auth.login",
        "user.deleted",
        "gdpr.erasure_requested",  # deletion opens an erasure request (gdpr subscribes)
    ]
    assert actions(subject_id=new_id) == ["user.registered", "user.email_verified"] + ["auth.login"] * 3
    # the failed login against the deleted account names no subject: it matched no live user
    assert AuditEvent.objects.filter(action="auth.login_failed", subject_id__isnull=True).count() == 1
    assert Session.objects.filter(user_id=old_id, revoke_reason="user_deleted").count() == 1
    assert any("deleted" in m.subject for m in mail.outbox if m.to == ["ada@example.com"])


def test_delete_me_needs_the_password(api: ApiClient, tokens, user) -> None:
    assert_error(
        api.call("delete", "/me", {"password": "wrong-password-1"}, token=tokens["access"]),
        400,
        "wrong_password",
    )
    assert_error(api.call("delete", "/me", {}, token=tokens["access"]), 422, "validation_error")
    assert_error(api.call("delete", "/me", token=tokens["access"]), 422, "validation_error")
    user.refresh_from_db()
    assert user.deleted_at is None
    assert api.call("get", "/me", token=tokens["access"]).status_code == 200
    assert AuditEvent.objects.filter(action="user.deleted").count() == 0
    assert actions(action="auth.reauth_failed") == ["auth.reauth_failed"]
    assert AuditEvent.objects.get(action="auth.reauth_failed").details["purpose"] == "account_delete"


def test_user_without_password_deletes_on_a_recent_login_only(
    api: ApiClient, make_user, login, settings
) -> None:
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    user = make_user("social@example.com")
    pair = login("social@example.com")
    user.set_unusable_password()
    user.save(update_fields=["password"])
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.REAUTH_WINDOW_SECONDS + 5)):
        refresh = api.post_json("/auth/token/refresh", {"refresh": pair["refresh"]}).json()
        body = assert_error(api.call("delete", "/me", {}, token=refresh["access"]), 403, "reauth_required")
        assert body["details"] == {"max_age_seconds": settings.REAUTH_WINDOW_SECONDS}
    assert User.objects.get(pk=user.pk).deleted_at is None
    recent = api.call("delete", "/me", {}, token=pair["access"])
    assert recent.status_code == 202, recent.content
    assert User.objects.get(pk=user.pk).deleted_at is not None
    assert actions(subject_id=user.pk)[-2:] == ["user.deleted", "gdpr.erasure_requested"]
