"""The console speaks the staff member's language: their profile locale, else Accept-Language (the login
page too), else English. docs/i18n.md."""

from __future__ import annotations

import re

from allauth.mfa.models import Authenticator
from django.test import Client

from accounts.models import Profile, Session, User
from tests.conftest import PASSWORD, outbox_to
from tests.console.conftest import client_for, htmx, with_roles
from tests.support.mfa import Clock, totp_code, totp_enroll


def support(make_user, email, locale=""):
    user = with_roles(make_user(email=email, is_staff=True), "Support")
    Profile.objects.filter(user=user).update(locale=locale)
    return user


def test_a_german_staff_member_gets_german_pages(make_user, user):
    console = client_for(support(make_user, "jana@example.com", "de-DE"))
    home = console.get("/console/").content.decode()
    assert '<html lang="de">' in home
    for german in ("Braucht Aufmerksamkeit", "Löschwarteschlange", "Abmelden", "Die letzten 30 Tage"):
        assert german in home, german
    assert "Needs attention" not in home and "Log out" not in home

    users = console.get("/console/users/", {"q": "ada"}).content.decode()
    assert "Benutzer" in users and "Registriert (UTC)" in users and "1 Benutzer" in users
    page = console.get(f"/console/users/{user.pk}/").content.decode()
    for german in ("Sitzungen", "Anmeldesperre", "Überall abmelden", "Datenanfragen"):
        assert german in page, german


def test_a_view_message_in_the_staff_members_language(make_user, user, api):
    api.post_json("/auth/token", {"login": user.email, "password": "correct-horse-battery-9"})
    session = Session.objects.get(user=user)
    console = client_for(support(make_user, "jana@example.com", "de"))
    r = console.post(f"/console/users/{user.pk}/sessions/{session.pk}/revoke/", headers=htmx("detail"))
    assert r.status_code == 200, r.content[:300]
    assert "Die Sitzung wurde beendet." in r.content.decode()


def test_without_a_profile_locale_accept_language_decides(make_user):
    console = client_for(support(make_user, "sam@example.com"))
    assert "Needs attention" in console.get("/console/").content.decode()
    german = console.get("/console/", headers={"Accept-Language": "de"}).content.decode()
    assert "Braucht Aufmerksamkeit" in german


def test_the_profile_locale_wins_over_accept_language(make_user):
    console = client_for(support(make_user, "sam@example.com", "en-GB"))
    page = console.get("/console/", headers={"Accept-Language": "de"}).content.decode()
    assert "Needs attention" in page and '<html lang="en">' in page


def test_the_login_page_follows_accept_language(db):
    page = Client().get("/console/login/", headers={"Accept-Language": "de"}).content.decode()
    assert "Anmeldung für Mitarbeitende" in page and "Passwort" in page
    # The passkey button, and the texts passkey.js shows, which it reads from the page.
    assert "Mit einem Passkey anmelden" in page
    assert 'data-cancelled="Die Anmeldung mit dem Passkey wurde abgebrochen."' in page
    english = Client().get("/console/login/").content.decode()
    assert "Staff login" in english and 'data-failed="The passkey sign-in failed."' in english


def test_a_german_staff_member_sends_an_english_user_an_english_mail(
    make_user, user, django_capture_on_commit_callbacks
):
    """The console's language is the staff member's; a mail it causes is in the recipient's."""
    console = client_for(support(make_user, "jana@example.com", "de"))
    with django_capture_on_commit_callbacks(execute=True):
        r = console.post(
            f"/console/users/{user.pk}/password-reset/",
            {"reason": "Telefonat, Ticket 4711"},
            headers=htmx("detail"),
        )
    assert r.status_code == 200, r.content[:300]
    assert "Ein Link zum Zurücksetzen des Passworts ist an ada@example.com unterwegs." in r.content.decode()
    assert "Our support team sent you this link" in outbox_to(user.email)[-1].body
    assert outbox_to(user.email)[-1].subject == "Reset your password"


# --- the second factor ------------------------------------------------------------------------------------


def test_a_german_staff_member_sets_up_the_authenticator_app_in_german(
    settings, make_user, time_machine, django_capture_on_commit_callbacks
):
    """CONSOLE_REQUIRE_MFA walks a German staff member through the enrollment in German, errors included;
    the mail that follows is German too."""
    settings.CONSOLE_REQUIRE_MFA = True
    Clock(time_machine)
    jana = support(make_user, "jana@example.com", "de")
    console = Client()
    assert console.post("/console/login/", {"username": jana.email, "password": PASSWORD}).status_code == 302
    assert console.get("/console/")["Location"] == "/console/mfa/setup/"

    page = console.get("/console/mfa/setup/").content.decode()
    assert '<html lang="de">' in page
    for german in (
        "Authenticator-App einrichten",
        "Die Konsole verlangt von Mitarbeitenden bei jeder Anmeldung einen zweiten Faktor.",
        "Eine Authenticator-App einrichten",
    ):
        assert german in page, german
    assert "Set up" not in page and "second factor" not in page

    assert console.post("/console/mfa/setup/", {"start": "1"}).status_code == 302
    page = console.get("/console/mfa/setup/").content.decode()
    for german in (
        "Scannen Sie diesen Code",
        'alt="QR-Code des Authenticator-Schlüssels"',
        "Schlüssel:",
        "Einschalten",
    ):
        assert german in page, german
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)

    empty = console.post("/console/mfa/setup/", {"code": ""})
    assert empty.status_code == 400
    assert "Geben Sie den Code ein, den Ihre App anzeigt." in empty.content.decode()
    wrong = console.post(
        "/console/mfa/setup/", {"code": "000000" if totp_code(secret) != "000000" else "111111"}
    )
    assert wrong.status_code == 400
    assert "Der Code passt nicht zum neuen Geheimnis" in wrong.content.decode()
    assert not User.objects.get(pk=jana.pk).mfa_enabled

    with django_capture_on_commit_callbacks(execute=True):
        done = console.post("/console/mfa/setup/", {"code": totp_code(secret)})
    assert done.status_code == 200
    page = done.content.decode()
    for german in (
        "Ihre Authenticator-App ist eingeschaltet",
        "Bewahren Sie diese Wiederherstellungscodes",
        "Weiter zur Konsole",
    ):
        assert german in page, german
    assert len(re.findall(r"<li><code>([^<]+)</code></li>", page)) == 10
    assert User.objects.get(pk=jana.pk).mfa_methods == ["totp", "recovery_codes"]
    assert outbox_to(jana.email)[-1].subject == (
        "Die Zwei-Faktor-Authentifizierung für Ihr Custodian-Konto ist eingeschaltet"
    )
    assert "Braucht Aufmerksamkeit" in console.get("/console/").content.decode()


def test_the_second_step_of_the_login_follows_accept_language(
    settings, api, make_user, time_machine, django_capture_on_commit_callbacks
):
    settings.CONSOLE_REQUIRE_MFA = True
    clock = Clock(time_machine)
    jana = support(make_user, "jana@example.com")
    access = api.post_json("/auth/token", {"login": jana.email, "password": PASSWORD}).json()["access"]
    enrolled = totp_enroll(api, access)
    clock.step()
    console = Client(headers={"Accept-Language": "de"})
    assert console.post("/console/login/", {"username": jana.email, "password": PASSWORD})["Location"] == (
        "/console/login/mfa/"
    )
    page = console.get("/console/login/mfa/").content.decode()
    assert "Zweiter Faktor" in page and "oder einen Ihrer Wiederherstellungscodes ein." in page
    assert "Bestätigen" in page and "authenticator app" not in page

    code = totp_code(enrolled["secret"])
    wrong = console.post("/console/login/mfa/", {"code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 400
    assert "Dieser Code ist nicht korrekt (oder wurde bereits verwendet)." in wrong.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        signed_in = console.post("/console/login/mfa/", {"code": enrolled["recovery_codes"][0]}, follow=True)
    assert signed_in.status_code == 200
    assert "Wiederherstellungscode verwendet: noch 9 übrig." in signed_in.content.decode()


def test_a_german_staff_member_resets_an_english_users_second_factors(
    api, make_user, user, time_machine, django_capture_on_commit_callbacks
):
    """The page and its message in the staff member's German; the user's mail in the user's English."""
    Clock(time_machine)
    access = api.post_json("/auth/token", {"login": user.email, "password": PASSWORD}).json()["access"]
    totp_enroll(api, access)
    console = client_for(support(make_user, "jana@example.com", "de"))
    page = console.get(f"/console/users/{user.pk}/").content.decode()
    section = page[page.index('<section id="authenticators">') :]
    section = section[: section.index("</section>")]
    for german in (
        "Zweite Faktoren",
        "Authenticator-App",
        "Wiederherstellungscodes",
        "noch 10",
        "nie",
        "Zweite Faktoren zurücksetzen",
    ):
        assert german in section, german
    assert "Alle zweiten Faktoren und Wiederherstellungscodes dieses Benutzers entfernen?" in section

    with django_capture_on_commit_callbacks(execute=True):
        r = console.post(
            f"/console/users/{user.pk}/mfa/reset/",
            {"reason": "Telefon verloren, Ticket 4711"},
            headers=htmx("detail"),
        )
    assert r.status_code == 200, r.content[:300]
    page = r.content.decode()
    assert "Alle zweiten Faktoren und Wiederherstellungscodes dieses Benutzers sind entfernt" in page
    assert "Kein zweiter Faktor." in page
    assert not Authenticator.objects.filter(user=user).exists()
    message = outbox_to(user.email)[-1]
    assert message.subject == "Two-factor authentication was reset on your Custodian account"
    assert message.body.startswith("Hello") and "our support team removed every second factor" in message.body


def test_the_profile_language_takes_over_once_the_login_completes(
    settings, api, make_user, time_machine, django_capture_on_commit_callbacks
):
    """Before the second step the login follows Accept-Language (nobody is signed in yet); the flash message
    of the request that completes it is already in the staff member's profile language."""
    settings.CONSOLE_REQUIRE_MFA = True
    clock = Clock(time_machine)
    jana = support(make_user, "jana@example.com", "de")
    access = api.post_json("/auth/token", {"login": jana.email, "password": PASSWORD}).json()["access"]
    enrolled = totp_enroll(api, access)
    clock.step()
    console = Client()
    console.post("/console/login/", {"username": jana.email, "password": PASSWORD})
    assert "Enter the 6-digit code" in console.get("/console/login/mfa/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        page = console.post("/console/login/mfa/", {"code": enrolled["recovery_codes"][0]}, follow=True)
    assert page.status_code == 200
    assert "Wiederherstellungscode verwendet: noch 9 übrig." in page.content.decode()
