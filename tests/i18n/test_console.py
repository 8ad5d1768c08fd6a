"""The console speaks the staff member's language: their profile locale, else Accept-Language (the login
page too), else English. docs/i18n.md."""

from __future__ import annotations

from django.test import Client

from accounts.models import Profile, Session
from tests.conftest import outbox_to
from tests.console.conftest import client_for, htmx, with_roles


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
    assert "Staff login" in Client().get("/console/login/").content.decode()


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
