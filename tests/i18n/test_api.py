"""The API's error `message` follows Accept-Language; `code` never changes. English without the header or
for a language not shipped. docs/i18n.md."""

from __future__ import annotations

import pytest

from tests.conftest import assert_error

DE = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}


def both(api, method, path, body=None, **kw):
    english = api.call(method, path, body, **kw)
    german = api.call(method, path, body, headers=DE, **kw)
    return english, german


def test_a_domain_error_in_german_with_the_same_code(api, user):
    body = {"login": user.email, "password": "not-the-password-0"}
    english, german = both(api, "post", "/auth/token", body)
    assert (
        assert_error(english, 401, "invalid_credentials")["message"]
        == "The login or password is not correct."
    )
    assert (
        assert_error(german, 401, "invalid_credentials")["message"]
        == "Anmeldename oder Passwort ist nicht korrekt."
    )
    assert german["Content-Language"] == "de" and english["Content-Language"] == "en"
    assert "Accept-Language" in german["Vary"]


def test_the_default_is_english_and_an_unshipped_language_falls_back_to_it(api):
    r = api.call("get", "/me", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert (
        assert_error(r, 401, "not_authenticated")["message"]
        == "Authentication credentials were not provided."
    )
    r = api.call("get", "/me", headers={"Accept-Language": "de"})
    assert assert_error(r, 401, "not_authenticated")["message"] == "Es wurden keine Anmeldedaten übermittelt."


def test_validation_messages_we_write_are_german_too(api):
    english, german = both(api, "post", "/auth/register", {"email": "not-an-address", "password": "x" * 20})
    en = assert_error(english, 422, "validation_error")
    de = assert_error(german, 422, "validation_error")
    assert en["message"] == "The input did not validate." and de["message"] == "Die Eingabe ist ungültig."
    assert set(en["details"]["fields"]) == set(de["details"]["fields"]) == {"email"}
    assert "Enter a valid e-mail address." in en["details"]["fields"]["email"][0]
    assert "Geben Sie eine gültige E-Mail-Adresse ein." in de["details"]["fields"]["email"][0]


def test_a_profile_field_message_in_german(api, tokens):
    english, german = both(api, "patch", "/me", {"phone": "call me maybe"}, token=tokens["access"])
    assert assert_error(english, 422, "validation_error")["details"]["fields"]["phone"] == [
        "Enter a phone number: digits, spaces, + ( ) . / - only."
    ]
    assert assert_error(german, 422, "validation_error")["details"]["fields"]["phone"] == [
        "Geben Sie eine Telefonnummer ein: nur Ziffern, Leerzeichen und + ( ) . / -."
    ]


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "german"),
    [
        ("get", "/no-such-path", 404, "not_found", "Nicht gefunden."),
        ("post", "/auth/token", 400, "bad_request", "Der Anfrageinhalt muss ein JSON-Objekt sein."),
        ("post", "/auth/register", 400, "bad_request", "Der Anfrageinhalt ist kein gültiges JSON."),
    ],
)
def test_generic_errors_in_german(api, method, path, status, code, german):
    body = {"/auth/token": [1, 2], "/auth/register": '{"email": '}.get(path)
    r = api.call(method, path, body, headers=DE)
    assert assert_error(r, status, code)["message"] == german


def test_a_gdpr_refusal_in_german(api, tokens):
    assert api.call("post", "/gdpr/requests", {"type": "erasure"}, token=tokens["access"]).status_code == 202
    r = api.call("post", "/gdpr/requests", {"type": "erasure"}, token=tokens["access"], headers=DE)
    assert (
        assert_error(r, 409, "request_open")["message"] == "Sie haben bereits eine offene Anfrage dieser Art."
    )
