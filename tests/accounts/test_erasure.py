"""The accounts services an erasure calls (gdpr.erasers adapts them): each erases what accounts owns, is
idempotent, and leaves every other user alone. The erasure end to end is in tests/gdpr/test_erasure.py."""

from __future__ import annotations

from datetime import date

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts import selectors, services
from accounts.models import Profile, Session, User
from accounts.services import avatar
from accounts.social import services as social_services
from audit.models import AuditEvent
from core.models import OutboxMessage
from tests.conftest import actions


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def ada(make_user) -> User:
    user = make_user(email="ada@example.com", username="ada", first_name="Ada", last_name="Lovelace")
    Profile.objects.filter(user=user).update(
        phone="+44 20 7946 0000",
        birth_date=date(1815, 12, 10),
        website="https://ada.example.com",
        bio="Analyst",
        locale="en-GB",
    )
    return User.objects.get(pk=user.pk)


@pytest.fixture
def bob(make_user) -> User:
    return make_user(email="bob@example.com", username="bob", first_name="Bob")


def _with_avatar(user: User) -> tuple[str, str]:
    names = (
        default_storage.save("avatars/a.webp", ContentFile(b"image")),
        default_storage.save("avatars/a_thumb.webp", ContentFile(b"thumb")),
    )
    Profile.objects.filter(user=user).update(avatar=names[0], avatar_thumbnail=names[1])
    return names


def _social(user: User, uid: str) -> None:
    app, _ = SocialApp.objects.get_or_create(
        provider="github", defaults={"name": "GitHub", "client_id": "id"}
    )
    account = SocialAccount.objects.create(user=user, provider="github", uid=uid)
    SocialToken.objects.create(app=app, account=account, token=f"gho_{uid}")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)


def test_user_erase_blanks_the_account_and_keeps_the_row(ada, bob):
    _with_avatar(ada)
    before = actions()
    services.user_erase(user=ada)
    erased = User.objects.get(pk=ada.pk)
    assert (erased.email, erased.username, erased.first_name, erased.last_name) == ("", None, "", "")
    assert not erased.is_active and erased.deleted_at is not None and not erased.has_usable_password()
    profile = Profile.objects.get(user=erased)
    assert [profile.phone, profile.website, profile.bio, profile.locale] == ["", "", "", ""]
    assert profile.birth_date is None
    # The avatar is avatar_erase's: its files must go with its columns.
    assert profile.avatar
    # The erasure records what its erasers did; the service adds no event of its own.
    assert actions() == before
    # E-mail and username are free again; the other user is untouched.
    assert not selectors.login_taken(email="ada@example.com", username="ada")
    kept = User.objects.get(pk=bob.pk)
    assert kept.email == "bob@example.com" and kept.is_active and kept.has_usable_password()


def test_user_erase_is_idempotent_and_keeps_the_deletion_time(ada):
    services.user_erase(user=ada)
    deleted_at = User.objects.get(pk=ada.pk).deleted_at
    services.user_erase(user=ada)
    assert User.objects.get(pk=ada.pk).deleted_at == deleted_at


def test_avatar_erase_deletes_the_files_after_the_commit(ada, bob, django_capture_on_commit_callbacks):
    names = _with_avatar(ada)
    theirs = default_storage.save("avatars/b.webp", ContentFile(b"bob"))
    Profile.objects.filter(user=bob).update(avatar=theirs)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.avatar_erase(user=ada) == 2
        # Owed through the outbox without a subject, so the erasure's outbox eraser keeps it.
        row = OutboxMessage.objects.get(topic=avatar.FILES_DELETE_TOPIC)
        assert row.subject_id is None and sorted(row.payload["names"]) == sorted(names)
        assert all(default_storage.exists(name) for name in names)
    profile = Profile.objects.get(user=ada)
    assert (profile.avatar, profile.avatar_thumbnail) == ("", "")
    assert not any(default_storage.exists(name) for name in names)
    assert default_storage.exists(theirs)
    assert actions(action__startswith="user.avatar") == []
    # Nothing left: no second deletion is owed.
    assert services.avatar_erase(user=ada) == 0
    assert OutboxMessage.objects.filter(topic=avatar.FILES_DELETE_TOPIC).count() == 1


def test_avatar_erase_without_avatar_or_profile(ada, bob):
    Profile.objects.filter(user=bob).delete()
    assert services.avatar_erase(user=ada) == 0
    assert services.avatar_erase(user=bob) == 0
    assert not OutboxMessage.objects.exists()


def test_social_accounts_erase(ada, bob):
    _social(ada, "1")
    _social(bob, "2")
    before = actions()
    assert social_services.social_accounts_erase(user=ada) == {"social_accounts": 1, "social_tokens": 1}
    assert not SocialAccount.objects.filter(user=ada).exists()
    assert not SocialToken.objects.filter(account__user=ada).exists()
    assert not EmailAddress.objects.filter(user=ada).exists()
    assert SocialAccount.objects.filter(user=bob).count() == 1 and SocialToken.objects.count() == 1
    assert EmailAddress.objects.filter(user=bob).count() == 1
    assert actions() == before
    assert social_services.social_accounts_erase(user=ada) == {"social_accounts": 0, "social_tokens": 0}


def test_sessions_erase_revokes_and_blanks(ada, bob):
    ended, _ = services.session_open(user=ada, via="password")
    services.session_revoke(session=ended, actor=ada)
    services.session_open(user=ada, via="password")
    theirs, _ = services.session_open(user=bob, via="password")
    Session.objects.update(ip="203.0.113.7", user_agent="Firefox")

    assert services.sessions_erase(user=ada) == 1
    rows = Session.objects.filter(user=ada)
    assert all(s.revoked_at is not None and s.ip is None and s.user_agent == "" for s in rows)
    assert set(rows.values_list("revoke_reason", flat=True)) == {"revoked", "erased"}
    event = AuditEvent.objects.get(action="session.revoked_all")
    assert event.subject_id == ada.pk and event.actor_type == "system"
    assert event.details["reason"] == "erased" and event.details["count"] == 1
    theirs.refresh_from_db()
    assert theirs.revoked_at is None and theirs.ip == "203.0.113.7"
