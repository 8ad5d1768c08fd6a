"""The console's second factor in a real browser: enrollment forced before anything else, a TOTP login, a
passkey login through Chromium's virtual authenticator (a real WebAuthn ceremony over CDP), and the MFA reset
of a user by staff with and without the permission."""

from __future__ import annotations

from typing import Any

import requests

from accounts.models import User
from tests.conftest import PASSWORD
from tests.console.conftest import with_roles
from tests.console.test_browser import ARTIFACTS, browser, expect, make, new_page, pytestmark  # noqa: F401
from tests.support.mfa import totp_code


def fill_login(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/console/")
    assert "/console/login/" in page.url
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")


def api_totp(base: str, email: str) -> dict[str, Any]:
    """TOTP set up through the API (as the user's own app would); its secret and recovery codes."""
    access = requests.post(
        f"{base}/api/v1/auth/token", json={"login": email, "password": PASSWORD}, timeout=10
    ).json()["access"]
    headers = {"Authorization": f"Bearer {access}"}
    secret = requests.post(f"{base}/api/v1/me/mfa/totp", headers=headers, timeout=10).json()["secret"]
    done = requests.post(
        f"{base}/api/v1/me/mfa/totp/confirm", json={"code": totp_code(secret)}, headers=headers, timeout=10
    )
    assert done.status_code == 201, done.text
    return {"secret": secret, **done.json()}


def virtual_authenticator(context: Any, page: Any) -> tuple[Any, dict[str, Any]]:
    """A platform authenticator in Chromium (CDP WebAuthn) that answers by itself, user verified."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added


def test_staff_without_a_factor_is_made_to_enroll_first(live_server, browser, settings):  # noqa: F811
    settings.CONSOLE_REQUIRE_MFA = True
    base = live_server.url
    staff = with_roles(make("staff@example.com", is_staff=True), "Support")
    page, problems = new_page(browser)
    fill_login(page, base, staff.email)
    page.wait_for_url(f"{base}/console/mfa/setup/")
    # Nothing else is reachable, typed addresses included.
    for path in ("/console/users/", f"/console/users/{staff.pk}/", "/console/audit/", "/admin/"):
        page.goto(f"{base}{path}")
        assert page.url == f"{base}/console/mfa/setup/", path
    page.click("#totp-start button")
    expect(page.locator("#totp-qr")).to_be_visible()
    assert page.locator("#totp-qr").get_attribute("src").startswith("data:image/svg+xml;base64,")
    page.screenshot(path=str(ARTIFACTS / "20-mfa-enroll.png"), full_page=True)
    secret = page.locator("#totp-secret").inner_text()
    page.fill("#id_code", totp_code(secret))
    page.click("#totp-form button[type=submit]")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.screenshot(path=str(ARTIFACTS / "21-mfa-recovery-codes.png"), full_page=True)
    page.click("#continue")
    page.wait_for_url(f"{base}/console/")
    page.goto(f"{base}/console/users/")
    assert page.url == f"{base}/console/users/"
    assert User.objects.get(pk=staff.pk).mfa_methods == ["totp", "recovery_codes"]
    assert problems == [], problems


def test_staff_login_with_totp(live_server, browser, settings):  # noqa: F811
    settings.CONSOLE_REQUIRE_MFA = True
    base = live_server.url
    with_roles(make("staff@example.com", is_staff=True), "Support")
    enrolled = api_totp(base, "staff@example.com")
    page, problems = new_page(browser)
    fill_login(page, base, "staff@example.com")
    page.wait_for_url(f"{base}/console/login/mfa/")
    page.fill("#id_code", "000000" if totp_code(enrolled["secret"], steps=1) != "000000" else "111111")
    page.click("#mfa-form button[type=submit]")
    expect(page.locator(".errors")).to_contain_text("not right")
    # The code of the next step (the one of now was spent by the enrollment).
    page.fill("#id_code", totp_code(enrolled["secret"], steps=1))
    page.click("#mfa-form button[type=submit]")
    page.wait_for_url(f"{base}/console/")
    page.screenshot(path=str(ARTIFACTS / "22-mfa-totp-login.png"), full_page=True)
    assert [p for p in problems if "400" not in p] == [], problems


def test_staff_login_with_a_passkey(live_server, browser, settings):  # noqa: F811
    settings.CONSOLE_REQUIRE_MFA = True
    base = live_server.url
    settings.MFA_WEBAUTHN_RP_ID = "localhost"
    settings.MFA_WEBAUTHN_ORIGINS = [base]
    staff = with_roles(make("staff@example.com", is_staff=True), "Support")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    cdp, added = virtual_authenticator(context, page)
    page.goto(f"{base}/console/login/")
    # Register the passkey the way a client app would: the API's WebAuthn registration, run in this page
    # (the console's origin) by the browser's own navigator.credentials.create.
    status = page.evaluate(
        """async ([email, password]) => {
            const post = (url, body, access) => fetch(url, {method: "POST", body: JSON.stringify(body),
                headers: {"Content-Type": "application/json", ...(access ? {Authorization: "Bearer " + access} : {})}});
            const access = (await (await post("/api/v1/auth/token", {login: email, password})).json()).access;
            const options = await (await post("/api/v1/me/mfa/webauthn/options", {passwordless: true}, access)).json();
            const credential = await navigator.credentials.create(
                {publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.public_key)});
            const done = await post("/api/v1/me/mfa/webauthn",
                {name: "Chromium", credential: credential.toJSON(), password}, access);
            return done.status;
        }""",
        [staff.email, PASSWORD],
    )
    assert status == 201
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": added["authenticatorId"]})
    assert len(credentials["credentials"]) == 1 and credentials["credentials"][0]["isResidentCredential"]

    page.goto(f"{base}/console/login/?next=/console/audit/")
    expect(page.locator("#passkey-button")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "23-login-passkey-button.png"), full_page=True)
    page.click("#passkey-button")
    page.wait_for_url(f"{base}/console/audit/")
    from audit.models import AuditEvent

    login = AuditEvent.objects.filter(action="auth.login", details__door="console").get()
    assert login.details["amr"] == ["hwk", "user", "mfa"] and login.actor_id == staff.pk
    assert problems == [], problems
    context.close()


def test_staff_login_with_a_security_key_at_the_second_step(live_server, browser, settings):  # noqa: F811
    """A staff member whose only factor is a security key (registered as a key, not a passkey): the password,
    then the key button on the code page; a refused ceremony shows the page's own message."""
    settings.CONSOLE_REQUIRE_MFA = True
    base = live_server.url
    settings.MFA_WEBAUTHN_RP_ID = "localhost"
    settings.MFA_WEBAUTHN_ORIGINS = [base]
    staff = with_roles(make("staff@example.com", is_staff=True), "Support")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    key = {"protocol": "ctap2", "transport": "usb", "hasResidentKey": False, "hasUserVerification": True,
           "isUserVerified": True, "automaticPresenceSimulation": True}  # fmt: skip
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": key})
    page.goto(f"{base}/console/login/")
    status = page.evaluate(
        """async ([email, password]) => {
            const post = (url, body, access) => fetch(url, {method: "POST", body: JSON.stringify(body),
                headers: {"Content-Type": "application/json", ...(access ? {Authorization: "Bearer " + access} : {})}});
            const access = (await (await post("/api/v1/auth/token", {login: email, password})).json()).access;
            const options = await (await post("/api/v1/me/mfa/webauthn/options", {passwordless: false}, access)).json();
            const credential = await navigator.credentials.create(
                {publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.public_key)});
            const done = await post("/api/v1/me/mfa/webauthn",
                {name: "USB key", credential: credential.toJSON(), password}, access);
            return done.status;
        }""",
        [staff.email, PASSWORD],
    )
    assert status == 201
    assert User.objects.get(pk=staff.pk).mfa_methods == ["webauthn", "recovery_codes"]

    # The key is unplugged: the ceremony fails and the page says so in its own words.
    [credential] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": added["authenticatorId"]})[
        "credentials"
    ]
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": added["authenticatorId"]})
    page.goto(f"{base}/console/login/?next=/console/audit/")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base}/console/login/mfa/")
    expect(page.locator("#key-button")).to_be_visible()
    expect(page.locator("#mfa-form")).to_contain_text("recovery codes")
    page.screenshot(path=str(ARTIFACTS / "25-login-security-key-step.png"), full_page=True)
    # No authenticator answers: Chromium waits for one until the options' timeout, so shorten it.
    page.evaluate(
        """() => { const b = document.getElementById("key-options");
                   const o = JSON.parse(b.textContent); o.timeout = 1000; b.textContent = JSON.stringify(o); }"""
    )
    page.click("#key-button")
    expect(page.locator("#key-error")).to_be_visible()
    assert page.url == f"{base}/console/login/mfa/"

    # Plugged in again (the same credential): the key signs the challenge and the console opens.
    again = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": key})
    cdp.send(
        "WebAuthn.addCredential", {"authenticatorId": again["authenticatorId"], "credential": credential}
    )
    page.goto(f"{base}/console/login/mfa/")
    page.click("#key-button")
    page.wait_for_url(f"{base}/console/audit/")
    from audit.models import AuditEvent

    login = AuditEvent.objects.filter(action="auth.login", details__door="console").get()
    assert login.details["amr"][:2] == ["pwd", "hwk"] and login.actor_id == staff.pk
    assert problems == [], problems
    context.close()


def test_mfa_reset_by_permitted_staff_and_refused_without_permission(live_server, browser):  # noqa: F811
    base = live_server.url
    with_roles(make("staff@example.com", is_staff=True), "Support")
    with_roles(make("approver@example.com", is_staff=True), "Approver")
    target = make("lost.phone@example.com")
    api_totp(base, target.email)

    # Without accounts.reset_mfa: no button, and a hand-made POST is refused.
    page, _ = new_page(browser)
    fill_login(page, base, "approver@example.com")
    page.wait_for_url(f"{base}/console/")
    page.goto(f"{base}/console/users/{target.pk}/")
    expect(page.locator("#authenticators tbody tr")).to_have_count(2)
    assert page.locator("#mfa-reset").count() == 0
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    refused = page.request.post(
        f"{base}/console/users/{target.pk}/mfa/reset/",
        form={"reason": "asked nicely"},
        headers={"X-CSRFToken": token, "Referer": f"{base}/console/"},
    )
    assert refused.status == 403
    assert User.objects.get(pk=target.pk).mfa_methods == ["totp", "recovery_codes"]
    page.close()

    page, problems = new_page(browser)
    fill_login(page, base, "staff@example.com")
    page.wait_for_url(f"{base}/console/")
    page.goto(f"{base}/console/users/{target.pk}/")
    expect(page.locator("#authenticators tbody tr").first).to_contain_text("Authenticator app")
    page.fill("#mfa-reset-reason", "Lost their phone; identity checked (ticket 4711)")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#mfa-reset button")
    expect(page.locator("#detail .messages")).to_contain_text("Every second factor")
    expect(page.locator("#authenticators tbody")).to_contain_text("No second factor")
    page.screenshot(path=str(ARTIFACTS / "24-mfa-reset.png"), full_page=True)
    assert User.objects.get(pk=target.pk).mfa_methods == []
    assert problems == [], problems


def test_the_passkey_buttons_own_texts_are_in_the_pages_language(live_server, browser, settings):  # noqa: F811
    """passkey.js reads its texts from the page: a German browser whose passkey ceremony is refused (no passkey
    of this site on the authenticator) sees the German message."""
    base = live_server.url
    settings.MFA_WEBAUTHN_RP_ID = "localhost"
    settings.MFA_WEBAUTHN_ORIGINS = [base]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    page = context.new_page()
    page.set_default_timeout(10_000)
    virtual_authenticator(context, page)
    page.goto(f"{base}/console/login/")
    expect(page.locator("#passkey-button")).to_have_text("Mit einem Passkey anmelden")
    page.click("#passkey-button")
    expect(page.locator("#passkey-error")).to_have_text("Die Anmeldung mit dem Passkey wurde abgebrochen.")
    expect(page.locator("#passkey-button")).to_be_enabled()
    context.close()
