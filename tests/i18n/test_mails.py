"""Every mail in the recipient's language: enqueued through the outbox for a user whose profile says "de"
(or "en", or nothing), relayed and sent, then read from the mail outbox. docs/i18n.md."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from accounts.models import Profile, User
from core import mail as core_mail
from core.models import OutboxMessage
from gdpr import services as gdpr_services
from gdpr.models import DataRequest
from tests.accounts.support import assert_mail_ok
from tests.conftest import PASSWORD, outbox_to

LINK = "http://127.0.0.1:8000/account/security"
WHEN = "2026-12-01T10:00:00+00:00"

# template → (context, English subject, German subject). The subjects are written out here, not read from
# the catalogue, so a broken catalogue fails. A new mail template fails test_every_template_is_listed until
# it is added here (and translated).
MAILS: dict[str, tuple[dict[str, Any], str, str]] = {
    "account_deleted": ({"when": WHEN}, "Your account was deleted", "Ihr Konto wurde gelöscht"),
    "account_locked": (
        {
            "first_name": "Ada",
            "failures": 5,
            "minutes": 15,
            "when": WHEN,
            "ip": "",
            "link": LINK,
            "reset_minutes": 60,
        },
        "Your account was locked after failed sign-ins",
        "Ihr Konto wurde nach fehlgeschlagenen Anmeldungen gesperrt",
    ),
    "account_restored": (
        {"first_name": "Ada", "when": WHEN, "link": LINK},
        "Your account has been restored",
        "Ihr Konto wurde wiederhergestellt",
    ),
    "email_change_confirm": (
        {"link": LINK, "hours": 24},
        "Confirm your new e-mail address",
        "Bestätigen Sie Ihre neue E-Mail-Adresse",
    ),
    "email_change_requested": (
        {"first_name": "Ada", "when": WHEN, "new_email": "new@example.com", "link": LINK},
        "Security notice: an e-mail address change was requested",
        "Sicherheitshinweis: Eine Änderung der E-Mail-Adresse wurde angefordert",
    ),
    "email_change_targeted": (
        {"when": WHEN, "link": LINK},
        "Someone tried to use your e-mail address",
        "Jemand hat versucht, Ihre E-Mail-Adresse zu verwenden",
    ),
    "email_changed": (
        {"first_name": "Ada", "when": WHEN, "new_email": "new@example.com", "link": LINK},
        "Security notice: your e-mail address was changed",
        "Sicherheitshinweis: Ihre E-Mail-Adresse wurde geändert",
    ),
    "mfa_disabled": (
        {
            "first_name": "Ada",
            "when": WHEN,
            "method": "webauthn",
            "key_name": "YubiKey 5C",
            "still_on": True,
            "link": LINK,
        },
        "A second factor was removed from your Custodian account",
        "Ein zweiter Faktor wurde aus Ihrem Custodian-Konto entfernt",
    ),
    "mfa_enabled": (
        {"first_name": "Ada", "when": WHEN, "method": "totp", "first": True, "link": LINK},
        "Two-factor authentication is on for your Custodian account",
        "Die Zwei-Faktor-Authentifizierung für Ihr Custodian-Konto ist eingeschaltet",
    ),
    "mfa_reset": (
        {"first_name": "Ada", "when": WHEN, "link": LINK},
        "Two-factor authentication was reset on your Custodian account",
        "Die Zwei-Faktor-Authentifizierung Ihres Custodian-Kontos wurde zurückgesetzt",
    ),
    "new_sign_in": (
        {"first_name": "Ada", "when": WHEN, "ip": "203.0.113.9", "user_agent": "Tablet/3", "link": LINK},
        "New sign-in to your account",
        "Neue Anmeldung bei Ihrem Konto",
    ),
    "password_changed": (
        {
            "first_name": "Ada",
            "how": "change",
            "usable": True,
            "when": WHEN,
            "ip": "203.0.113.9",
            "link": LINK,
        },
        "Security alert: your password was changed",
        "Sicherheitswarnung: Ihr Passwort wurde geändert",
    ),
    "password_reset": (
        {"first_name": "Ada", "by_staff": False, "ip": "203.0.113.9", "link": LINK, "minutes": 60},
        "Reset your password",
        "Setzen Sie Ihr Passwort zurück",
    ),
    "recovery_code_used": (
        {"first_name": "Ada", "when": WHEN, "left": 2, "link": LINK},
        "A recovery code was used to log in to your Custodian account",
        "Für die Anmeldung bei Ihrem Custodian-Konto wurde ein Wiederherstellungscode verwendet",
    ),
    "recovery_codes_regenerated": (
        {"first_name": "Ada", "count": 10, "when": WHEN, "link": LINK},
        "New recovery codes were generated for your Custodian account",
        "Für Ihr Custodian-Konto wurden neue Wiederherstellungscodes erzeugt",
    ),
    "social_linked": (
        {"first_name": "Ada", "provider": "GitHub", "when": WHEN, "link": LINK},
        "A GitHub account was linked to your Custodian account",
        "Ein GitHub-Konto wurde mit Ihrem Custodian-Konto verknüpft",
    ),
    "token_reused": (
        {"when": WHEN, "ip": "", "link": LINK},
        "Security alert: your session was ended",
        "Sicherheitswarnung: Ihre Sitzung wurde beendet",
    ),
    "verify": (
        {"link": "http://127.0.0.1:8000/verify-email?key=k3y", "key": "k3y", "hours": 72},
        "Verify your e-mail address",
        "Bestätigen Sie Ihre E-Mail-Adresse",
    ),
    "webauthn_added": (
        {"first_name": "Ada", "passkey": True, "name": "Phone", "when": WHEN, "first": True, "link": LINK},
        "A new passkey was added to your Custodian account",
        "Ein neuer Passkey wurde zu Ihrem Custodian-Konto hinzugefügt",
    ),
    "welcome": ({"first_name": "Ada", "link": LINK}, "Welcome to Custodian", "Willkommen bei Custodian"),
    "gdpr/email/erasure_approved": (
        {"first_name": "Ada", "scheduled_for": "2026-12-08 10:00 UTC", "link": LINK},
        "Your erasure request was approved",
        "Ihre Löschanfrage wurde genehmigt",
    ),
    "gdpr/email/erasure_completed": (
        {"first_name": "Ada"},
        "Your personal data has been erased",
        "Ihre personenbezogenen Daten wurden gelöscht",
    ),
    "gdpr/email/erasure_requested": (
        {"first_name": "Ada", "grace_days": 7},
        "Your erasure request was received",
        "Ihre Löschanfrage ist eingegangen",
    ),
    "gdpr/email/export_ready": (
        {"first_name": "Ada", "link": LINK, "downloads": 3, "expires_at": "2026-12-08 10:00 UTC"},
        "Your data export is ready",
        "Ihr Datenexport ist fertig",
    ),
}


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def approver(make_user: Any) -> User:
    staff = make_user(email="grace@example.com", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="approve_erasure"))
    return User.objects.get(pk=staff.pk)


def mail_templates() -> set[str]:
    """Every mail the project ships, by the name `mail.enqueue` takes (found by its subject template)."""
    names = set()
    for path in Path(settings.BASE_DIR).glob("*/templates/*/email/*_subject.txt"):
        app = path.parent.parent.name
        name = path.name.removesuffix("_subject.txt")
        names.add(name if app == "accounts" else f"{app}/email/{name}")
    return names


def html_of(message: Any) -> str:
    return next(content for content, mimetype in message.alternatives if mimetype == "text/html")


def english_sentences(text: str) -> list[str]:
    """Lines of an English mail that are prose (three words or more, no link): none may survive in German."""
    return [line.strip() for line in text.splitlines() if len(line.split()) >= 3 and "://" not in line]


def send(user: User, template: str, capture: Any) -> Any:
    context = MAILS[template][0]
    mail.outbox.clear()
    with capture(execute=True), transaction.atomic():
        core_mail.enqueue(template=template, to=user.email, subject_id=user.pk, context=context)
    [message] = outbox_to(user.email)
    assert_mail_ok(message)
    return message


def with_locale(user: User, locale: str) -> User:
    Profile.objects.filter(user=user).update(locale=locale)
    return user


def test_every_template_is_listed() -> None:
    assert mail_templates() == set(MAILS)


@pytest.mark.parametrize("template", sorted(MAILS))
def test_each_mail_in_german_and_english(template, make_user, django_capture_on_commit_callbacks) -> None:
    _, english_subject, german_subject = MAILS[template]
    english = send(
        with_locale(make_user(email="en@example.com"), "en"), template, django_capture_on_commit_callbacks
    )
    german = send(
        with_locale(make_user(email="de@example.com"), "de"), template, django_capture_on_commit_callbacks
    )

    assert english.subject == english_subject
    assert english.body.startswith("Hello") and 'lang="en"' in html_of(english)
    assert german.subject == german_subject
    assert german.body.startswith("Hallo") and 'lang="de"' in html_of(german)
    assert "Hello" not in german.body + html_of(german)
    leaked = [line for line in english_sentences(english.body) if line in german.body]
    assert leaked == [], leaked
    # The footer of every HTML part is translated too.
    assert "Sie erhalten diese Nachricht" in html_of(german)


def test_the_language_is_stored_with_the_message_when_it_is_owed(
    make_user, django_capture_on_commit_callbacks
):
    """Chosen at enqueue time: a profile changed (or erased) before the relay runs does not change it."""
    user = with_locale(make_user(), "de-CH")
    with transaction.atomic():
        core_mail.enqueue(template="welcome", to=user.email, subject_id=user.pk, context={"link": LINK})
    row = OutboxMessage.objects.get(topic=core_mail.SEND_TOPIC)
    assert row.payload["locale"] == "de"  # the shipped language, not the tag
    with_locale(user, "en")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("outbox_relay")
    assert outbox_to(user.email)[-1].subject == "Willkommen bei Custodian"


@pytest.mark.parametrize(
    ("locale", "subject"),
    [
        ("", "Welcome to Custodian"),
        ("fr-FR", "Welcome to Custodian"),
        ("de_AT", "Willkommen bei Custodian"),
        ("DE", "Willkommen bei Custodian"),
        ("en-GB", "Welcome to Custodian"),
    ],
)
def test_any_locale_tag_maps_to_a_shipped_language(
    locale, subject, make_user, django_capture_on_commit_callbacks
):
    user = with_locale(make_user(), locale)
    assert send(user, "welcome", django_capture_on_commit_callbacks).subject == subject


def test_a_mail_owed_through_the_api_follows_the_profile_locale(api, user, tokens):
    """PATCH /me sets the locale; the password-reset mail that follows is German, the one before English."""
    api.post_json("/auth/password/reset", {"email": user.email})
    assert outbox_to(user.email)[-1].subject == "Reset your password"
    r = api.call("patch", "/me", {"locale": "de-DE"}, token=tokens["access"])
    assert r.status_code == 200, r.content
    api.post_json("/auth/password/reset", {"email": user.email})
    message = outbox_to(user.email)[-1]
    assert message.subject == "Setzen Sie Ihr Passwort zurück"
    assert "Wählen Sie ein neues Passwort" in message.body


def test_the_erasure_confirmation_keeps_the_language_of_the_erased_profile(
    api, make_user, login, approver, time_machine, django_capture_on_commit_callbacks
):
    user = with_locale(make_user(email="eva@example.com", first_name="Eva"), "de")
    tokens = login("eva@example.com")
    assert api.call("delete", "/me", {"password": PASSWORD}, token=tokens["access"]).status_code == 202
    subjects = {m.subject for m in outbox_to("eva@example.com")}
    assert {"Ihr Konto wurde gelöscht", "Ihre Löschanfrage ist eingegangen"} <= subjects
    request = DataRequest.objects.get(user=user, type="erasure")
    with django_capture_on_commit_callbacks(execute=True):
        gdpr_services.erasure_approve(data_request=request, actor=approver)
    assert outbox_to("eva@example.com")[-1].subject == "Ihre Löschanfrage wurde genehmigt"

    time_machine.move_to(timezone.now() + timedelta(days=8))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("gdpr_run_erasures")
    assert Profile.objects.get(user=user).locale == ""  # erased before the relay sent the mail
    [confirmation] = outbox_to("eva@example.com")
    assert confirmation.subject == "Ihre personenbezogenen Daten wurden gelöscht"
    assert confirmation.body.startswith("Hallo Eva,")
