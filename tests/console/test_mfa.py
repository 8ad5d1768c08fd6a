"""The console's second factor: CONSOLE_REQUIRE_MFA's forced TOTP enrollment, the second step of a staff
login (TOTP, recovery codes, lockout, replay), passkey login, and the staff reset of a user's MFA. Codes are
computed as an authenticator app does (pyotp); passkeys answered by a software authenticator."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client

from accounts.models import MfaChallenge, User
from audit.models import AuditEvent
from tests.accounts.support import last_mail
from tests.conftest import PASSWORD, actions, outbox_to
from tests.console.conftest import htmx, with_roles
from tests.support.mfa import Clock, authenticator, key_enroll, totp_code, totp_enroll

REASON = "Lost their phone; identity checked on a video call (ticket 4711)."


@pytest.fixture
def clock(time_machine: Any) -> Clock:
    return Clock(time_machine)


@pytest.fixture(autouse=True)
def _generous_login_limit(settings: Any) -> None:
    # Several logins from one test address; the per-IP limit has its own tests.
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "1000/min"}


@pytest.fixture
def required(settings: Any) -> None:
    settings.CONSOLE_REQUIRE_MFA = True


def enroll_via_api(api: Any, email: str, clock: Clock) -> dict[str, Any]:
    access = api.post_json("/auth/token", {"login": email, "password": PASSWORD}).json()["access"]
    enrolled = totp_enroll(api, access)
    clock.step()  # the enrollment's code is spent; the codes of the next step are fresh
    return enrolled


def password_step(client: Client, email: str = "staff@example.com", next_url: str = "") -> Any:
    data = {"username": email, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post("/console/login/", data)


def signed_in(client: Client) -> bool:
    return client.get("/console/users/").status_code == 200


# --- CONSOLE_REQUIRE_MFA: enrollment before anything else ------------------------------------------------


def test_staff_without_a_factor_enrolls_before_any_other_page(
    required, staff, user, django_capture_on_commit_callbacks
):
    client = Client()
    response = password_step(client)
    assert response.status_code == 302
    # Every console (and admin) URL leads to the enrollment: pages, partials, actions, direct addresses.
    for url in ["/console/", "/console/users/", f"/console/users/{user.pk}/", "/console/audit/", "/admin/"]:
        response = client.get(url)
        assert (response.status_code, response["Location"]) == (302, "/console/mfa/setup/"), url
    response = client.get("/console/users/", headers=htmx("results"))
    assert response["HX-Redirect"] == "/console/mfa/setup/"
    response = client.post(f"/console/users/{user.pk}/logout-all/")
    assert (response.status_code, response["Location"]) == (302, "/console/mfa/setup/")
    assert not actions(action="session.revoked_all")

    page = client.get("/console/mfa/setup/")
    assert page.status_code == 200 and b'name="start"' in page.content
    assert not MfaChallenge.objects.exists()  # a GET starts nothing
    assert client.post("/console/mfa/setup/", {"start": "1"})["Location"] == "/console/mfa/setup/"
    page = client.get("/console/mfa/setup/").content.decode()
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    assert 'src="data:image/svg+xml;base64,' in page

    wrong = client.post(
        "/console/mfa/setup/", {"code": "000000" if totp_code(secret) != "000000" else "111111"}
    )
    assert wrong.status_code == 400 and secret in wrong.content.decode()  # the same key, to try again
    staff.refresh_from_db()
    assert not staff.mfa_enabled

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post("/console/mfa/setup/", {"code": totp_code(secret)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([^<]+)</code></li>", done.content.decode())
    assert len(codes) == 10
    staff.refresh_from_db()
    assert staff.mfa_methods == ["totp", "recovery_codes"]
    assert "mfa.totp_enabled" in actions(subject_id=staff.pk)
    assert last_mail("staff@example.com", "two-factor")
    # Enrolled (and proven with a code) in this session: the console opens up.
    assert signed_in(client)
    assert client.get("/console/mfa/setup/")["Location"] == "/console/"


def test_enrollment_right_after_a_login_only(required, staff):
    client = Client()
    client.force_login(staff)  # a session whose login time the console does not know
    client.post("/console/mfa/setup/", {"start": "1"})
    page = client.get("/console/mfa/setup/").content.decode()
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    response = client.post("/console/mfa/setup/", {"code": totp_code(secret)})
    assert response.status_code == 403 and b"sign in again" in response.content
    staff.refresh_from_db()
    assert not staff.mfa_enabled


def test_without_the_requirement_no_enrollment_is_forced(settings, staff):
    settings.CONSOLE_REQUIRE_MFA = False
    client = Client()
    password_step(client)
    assert signed_in(client)


def test_a_staff_session_without_the_second_factor_is_ended(required, api, staff, clock):
    enroll_via_api(api, staff.email, clock)
    client = Client()
    client.force_login(staff)  # e.g. a session opened before the staff member added a factor
    response = client.get("/console/users/")
    assert response["Location"] == "/console/login/?next=%2Fconsole%2Fusers%2F"
    assert "_auth_user_id" not in client.session


# --- the second step of a staff login ---------------------------------------------------------------------


def test_totp_login(required, api, staff, clock):
    enrolled = enroll_via_api(api, staff.email, clock)
    client = Client()
    response = password_step(client, next_url="/console/audit/")
    assert response["Location"] == "/console/login/mfa/"
    assert not signed_in(client)  # the password alone opens nothing
    assert not AuditEvent.objects.filter(action="auth.login", details__door="console").exists()
    challenged = AuditEvent.objects.get(action="auth.mfa_challenged")
    assert challenged.details == {"door": "console", "via": "password", "methods": ["totp", "recovery_codes"]}

    response = client.post("/console/login/mfa/", {"code": totp_code(enrolled["secret"])})
    assert (response.status_code, response["Location"]) == (302, "/console/audit/")
    assert signed_in(client)
    login = AuditEvent.objects.filter(action="auth.login", details__door="console").get()
    assert login.details["amr"] == ["pwd", "otp", "mfa"] and login.details["factor"] == "totp"
    assert not MfaChallenge.objects.exists()  # spent

    # Replay: the same code (same time step) does not open a second session.
    client.post("/console/logout/")
    other = Client()
    password_step(other)
    response = other.post("/console/login/mfa/", {"code": totp_code(enrolled["secret"])})
    assert response.status_code == 400 and b"not right" in response.content
    assert not signed_in(other)


def test_wrong_codes_count_toward_the_lockout(required, api, settings, staff, clock):
    enrolled = enroll_via_api(api, staff.email, clock)
    settings.LOGIN_LOCKOUT_FAILURES = 3
    client = Client()
    password_step(client)
    for _ in range(3):
        response = client.post("/console/login/mfa/", {"code": "12345"})
        assert response.status_code == 400
    response = client.post("/console/login/mfa/", {"code": totp_code(enrolled["secret"])})
    assert b"Too many failed attempts" in response.content
    assert not signed_in(client)
    failed = AuditEvent.objects.filter(action="auth.login_failed").order_by("id")
    assert [(e.details["reason"], e.details.get("step"), e.details["door"]) for e in failed] == [
        *[("wrong_code", "mfa", "console")] * 3,
        ("locked", "mfa", "console"),
    ]
    assert actions(action="auth.locked") == ["auth.locked"]
    # The same lock holds at the API's door.
    response = api.post_json("/auth/token", {"login": staff.email, "password": PASSWORD})
    assert response.status_code == 429 and response.json()["code"] == "locked"


def test_recovery_code_login(required, api, staff, clock, django_capture_on_commit_callbacks):
    enrolled = enroll_via_api(api, staff.email, clock)
    code = enrolled["recovery_codes"][0]
    client = Client()
    password_step(client)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/console/login/mfa/", {"code": code.upper()}, follow=True)
    assert response.status_code == 200 and b"Recovery code used: 9 left." in response.content
    assert signed_in(client)
    assert "9" in last_mail("staff@example.com", "recovery code").body
    # Each recovery code works once.
    again = Client()
    password_step(again)
    assert again.post("/console/login/mfa/", {"code": code}).status_code == 400
    assert not signed_in(again)


def test_the_second_step_without_a_first_or_after_losing_staff(required, api, staff, clock):
    enrolled = enroll_via_api(api, staff.email, clock)
    assert Client().get("/console/login/mfa/")["Location"] == "/console/login/"
    client = Client()
    password_step(client)
    User.objects.filter(pk=staff.pk).update(is_staff=False)
    response = client.post("/console/login/mfa/", {"code": totp_code(enrolled["secret"])})
    assert response["Location"] == "/console/login/"
    assert not signed_in(client)
    assert AuditEvent.objects.filter(action="auth.login_failed", details__reason="not_staff").exists()


def test_a_non_staff_user_with_mfa_is_refused_before_any_challenge(required, api, user, clock):
    enroll_via_api(api, user.email, clock)
    response = password_step(Client(), email=user.email)
    assert response.status_code == 200 and b"Please enter a correct" in response.content
    assert not actions(action="auth.mfa_challenged")


def test_the_admin_door_sends_staff_with_a_factor_to_the_console(api, staff, clock):
    enroll_via_api(api, staff.email, clock)
    client = Client()
    response = client.post("/admin/login/", {"username": staff.email, "password": PASSWORD})
    assert response.status_code == 200 and b"sign in through the console" in response.content
    assert client.get("/admin/").status_code == 302


# --- a security key at the second step --------------------------------------------------------------------


KEY_STEP = "/console/login/mfa/key/"


def key_only_staff(api: Any, staff: User) -> Any:
    """The staff member's only factor: a security key (not a passkey), enrolled through the API."""
    access = api.post_json("/auth/token", {"login": staff.email, "password": PASSWORD}).json()["access"]
    device = authenticator()
    assert key_enroll(api, access, device, passwordless=False, name="YubiKey").status_code == 201
    staff.refresh_from_db()
    assert staff.mfa_methods == ["webauthn", "recovery_codes"]
    return device


def key_options(client: Client) -> dict[str, Any]:
    """The request options the code page carries for the browser (a JSON data block, no inline script)."""
    page = client.get("/console/login/mfa/").content.decode()
    block = re.search(r'<script id="key-options" type="application/json">(.*?)</script>', page, re.S)
    assert block is not None and 'id="key-button"' in page and "Use your security key" in page
    options: dict[str, Any] = json.loads(block.group(1))
    return options


def key_answer(client: Client, answer: Any) -> Any:
    return client.post(KEY_STEP, json.dumps({"credential": answer}), content_type="application/json")


def test_security_key_login(required, api, staff):
    device = key_only_staff(api, staff)
    client = Client()
    assert password_step(client, next_url="/console/audit/")["Location"] == "/console/login/mfa/"
    options = key_options(client)
    assert [c["id"] for c in options["allowCredentials"]] == [device.id]
    response = key_answer(client, device.get(options))
    assert (response.status_code, response.json()) == (200, {"redirect": "/console/audit/"})
    assert signed_in(client)
    login = AuditEvent.objects.filter(action="auth.login", details__door="console").get()
    assert login.details["amr"] == ["pwd", "hwk", "user", "mfa"] and login.details["factor"] == "webauthn"
    assert not MfaChallenge.objects.exists()  # spent: the same answer opens nothing more
    assert key_answer(client, device.get(options)).json()["code"] == "challenge_invalid"


def test_a_security_key_that_does_not_verify_counts_toward_the_lockout(required, api, settings, staff):
    device = key_only_staff(api, staff)
    settings.LOGIN_LOCKOUT_FAILURES = 2
    client = Client()
    password_step(client)
    options = key_options(client)
    stranger = authenticator()  # a key this account never registered
    stranger.rp_id = settings.MFA_WEBAUTHN_RP_ID
    for _ in range(2):
        refused = key_answer(client, stranger.get({**options, "allowCredentials": []}))
        assert refused.status_code == 400 and refused.json()["code"] == "webauthn_invalid"
    locked = key_answer(client, device.get(options))
    assert locked.status_code == 429 and locked.json()["code"] == "locked" and int(locked["Retry-After"]) >= 1
    assert not signed_in(client)
    failed = AuditEvent.objects.filter(action="auth.login_failed").order_by("id")
    assert [e.details["door"] for e in failed] == ["console"] * 3


def test_the_key_step_after_losing_staff_or_without_a_first_step(required, api, staff):
    device = key_only_staff(api, staff)
    client = Client()
    password_step(client)
    options = key_options(client)
    User.objects.filter(pk=staff.pk).update(is_staff=False)
    refused = key_answer(client, device.get(options))
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_credentials"
    assert not signed_in(client)
    assert AuditEvent.objects.filter(action="auth.login_failed", details__reason="not_staff").exists()
    # The pending login is gone: the next answer has nothing to answer, and the code page sends to login.
    assert key_answer(client, device.get(options)).json()["code"] == "challenge_invalid"
    assert client.get("/console/login/mfa/")["Location"] == "/console/login/"


def test_the_key_step_bad_input(required, api, staff):
    key_only_staff(api, staff)
    client = Client()
    password_step(client)
    for body in ("{", "[]", json.dumps({"credential": "x"}), json.dumps({})):
        response = client.post(KEY_STEP, body, content_type="application/json")
        assert response.status_code == 422 and response.json()["code"] == "validation_error", body
    garbage = key_answer(client, {"id": "AA", "type": "public-key", "response": {}})
    assert garbage.status_code == 400 and garbage.json()["code"] == "webauthn_invalid"
    assert key_answer(Client(), {"id": "AA"}).json()["code"] == "challenge_invalid"
    assert client.get(KEY_STEP).status_code == 405
    assert (
        Client(enforce_csrf_checks=True).post(KEY_STEP, "{}", content_type="application/json").status_code
        == 403
    )
    assert not signed_in(client)


def test_staff_without_a_key_get_no_key_button(required, api, staff, clock):
    enroll_via_api(api, staff.email, clock)
    client = Client()
    password_step(client)
    page = client.get("/console/login/mfa/").content.decode()
    assert "key-options" not in page and "key-button" not in page and "passkey.js" not in page


# --- passkeys ---------------------------------------------------------------------------------------------


def passkey_login(client: Client, device: Any) -> Any:
    options = client.post("/console/login/passkey/options/")
    assert options.status_code == 200, options.content
    assert "passkey_token" not in options.json()  # kept in the session
    answer = device.get(options.json()["public_key"])
    return client.post(
        "/console/login/passkey/verify/?next=/console/audit/",
        json.dumps({"credential": answer}),
        content_type="application/json",
    )


def test_passkey_login(required, api, staff):
    access = api.post_json("/auth/token", {"login": staff.email, "password": PASSWORD}).json()["access"]
    device = authenticator()
    assert key_enroll(api, access, device, passwordless=True, name="Laptop").status_code == 201
    client = Client()
    response = passkey_login(client, device)
    assert (response.status_code, response.json()) == (200, {"redirect": "/console/audit/"})
    assert signed_in(client)  # the passkey is both factors: no enrollment, no second step
    login = AuditEvent.objects.filter(action="auth.login", details__door="console").get()
    assert login.details["amr"] == ["hwk", "user", "mfa"] and login.details["factor"] == "webauthn"


@pytest.mark.parametrize("change", ["not_staff", "inactive", "deleted"])
def test_passkey_login_refused(required, api, staff, change):
    access = api.post_json("/auth/token", {"login": staff.email, "password": PASSWORD}).json()["access"]
    device = authenticator()
    key_enroll(api, access, device, passwordless=True)
    from django.utils import timezone

    update = {"not_staff": {"is_staff": False}, "inactive": {"is_active": False}}
    User.objects.filter(pk=staff.pk).update(**update.get(change, {"deleted_at": timezone.now()}))
    client = Client()
    response = passkey_login(client, device)
    assert response.status_code == 401 and response.json()["code"] == "invalid_credentials"
    assert not signed_in(client)
    reason = "not_staff" if change == "not_staff" else "unknown_passkey"
    assert AuditEvent.objects.filter(action="auth.login_failed", details__reason=reason).exists()


def test_passkey_bad_input(db):
    client = Client()
    verify = "/console/login/passkey/verify/"
    assert client.post(verify, "{", content_type="application/json").status_code == 422
    assert client.post(verify, "[]", content_type="application/json").status_code == 422
    response = client.post(verify, json.dumps({"credential": {}}), content_type="application/json")
    assert response.status_code == 401 and response.json()["code"] == "challenge_invalid"
    assert client.get("/console/login/passkey/options/").status_code == 405
    assert Client(enforce_csrf_checks=True).post("/console/login/passkey/options/").status_code == 403


# --- staff reset of a user's MFA ----------------------------------------------------------------------------


@pytest.fixture
def target(api: Any, user: User, clock: Clock) -> User:
    enroll_via_api(api, user.email, clock)
    access = api.post_json("/auth/token", {"login": user.email, "password": PASSWORD})
    assert access.status_code == 202
    user.refresh_from_db()
    return user


def test_the_user_page_lists_the_factors(staff_client, target):
    page = staff_client.get(f"/console/users/{target.pk}/").content.decode()
    section = page[
        page.index('id="authenticators"') : page.index("</section>", page.index('id="authenticators"'))
    ]
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]*)</td>", section)
    assert rows == [("Authenticator app", ""), ("Recovery codes", "10 left")]
    assert 'id="mfa-reset"' in section


def test_reset_a_users_mfa(staff, staff_client, target, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            f"/console/users/{target.pk}/mfa/reset/", {"reason": REASON}, headers=htmx("detail")
        )
    assert response.status_code == 200 and b"Every second factor" in response.content
    target.refresh_from_db()
    assert target.mfa_methods == [] and not Authenticator.objects.filter(user=target).exists()
    event = AuditEvent.objects.get(action="mfa.reset")
    assert (event.actor_id, event.actor_type, event.subject_id) == (staff.pk, "staff", target.pk)
    assert event.details["reason"] == REASON and event.details["methods"] == ["totp", "recovery_codes"]
    assert "removed every second factor" in last_mail(target.email, "reset").body
    # The password alone logs in again.
    assert (
        Client()
        .post(
            "/api/v1/auth/token",
            {"login": target.email, "password": PASSWORD},
            content_type="application/json",
        )
        .status_code
        == 200
    )


def test_reset_needs_a_reason(staff_client, target):
    response = staff_client.post(
        f"/console/users/{target.pk}/mfa/reset/", {"reason": " "}, headers=htmx("detail")
    )
    assert response.status_code == 400
    target.refresh_from_db()
    assert target.mfa_methods == ["totp", "recovery_codes"]
    assert not actions(action="mfa.reset")
    assert not [m for m in outbox_to(target.email) if "reset" in m.subject]


def test_reset_needs_the_permission(make_user, target):
    viewer = with_roles(make_user(email="approver@example.com", is_staff=True), "Approver")
    client = Client()
    client.force_login(viewer)
    assert 'id="mfa-reset"' not in client.get(f"/console/users/{target.pk}/").content.decode()
    response = client.post(
        f"/console/users/{target.pk}/mfa/reset/", {"reason": REASON}, headers=htmx("detail")
    )
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.mfa_methods == ["totp", "recovery_codes"]
    refused = AuditEvent.objects.get(action="staff.action_refused")
    assert refused.details == {
        "action": "mfa.reset",
        "reason": "permission",
        "permission": "accounts.reset_mfa",
    }


def test_reset_follows_the_rank_rule_and_not_on_oneself(api, staff, staff_client, clock):
    enroll_via_api(api, staff.email, clock)
    response = staff_client.post(
        f"/console/users/{staff.pk}/mfa/reset/", {"reason": REASON}, headers=htmx("detail")
    )
    assert response.status_code == 403
    staff.refresh_from_db()
    assert staff.mfa_enabled
    assert AuditEvent.objects.get(action="staff.action_refused").details["reason"] == "self"


def test_reset_of_an_account_without_mfa_is_refused(staff_client, user):
    response = staff_client.post(
        f"/console/users/{user.pk}/mfa/reset/", {"reason": REASON}, headers=htmx("detail")
    )
    assert response.status_code == 409 and b"no second factor to reset" in response.content
    assert not actions(action="mfa.reset")


def test_a_staff_member_whose_mfa_was_reset_enrolls_again(required, api, make_user, clock):
    boss = make_user(email="boss@example.com", is_staff=True, is_superuser=True)
    staff = with_roles(make_user(email="staff@example.com", is_staff=True), "Support")
    enrolled = enroll_via_api(api, staff.email, clock)
    client = Client()
    password_step(client)
    client.post("/console/login/mfa/", {"code": totp_code(enrolled["secret"])})
    assert signed_in(client)
    from accounts import services

    services.mfa_reset(actor=boss, user=staff, reason=REASON)
    assert client.get("/console/users/")["Location"] == "/console/mfa/setup/"
