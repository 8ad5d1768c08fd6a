"""Second factors in the GDPR export (listed, never their secrets) and in erasure (deleted)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from allauth.mfa.models import Authenticator
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from accounts.models import MfaChallenge, User
from audit.models import AuditEvent
from gdpr import services
from gdpr.models import DataRequest
from tests.conftest import PASSWORD
from tests.gdpr.helpers import body, token_from, verify_zip
from tests.support.mfa import authenticator, key_enroll, mfa_login, totp_enroll


@pytest.fixture
def ada_with_mfa(api, user, tokens, time_machine, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "1000/min"}
    enrolled = totp_enroll(api, tokens["access"])
    device = authenticator()
    added = key_enroll(
        api,
        tokens["access"],
        device,
        passwordless=True,
        name="Ada's phone",
        otp=enrolled["recovery_codes"][0],
    )
    assert added.status_code == 201, added.content
    time_machine.move_to(timezone.now() + timedelta(seconds=31))
    return {"user": user, **enrolled, "device": device}


def test_export_lists_authenticators_without_secrets(api, ada_with_mfa):
    pair = mfa_login(api, ada_with_mfa["secret"])
    api.call("post", "/gdpr/requests", {"type": "export"}, token=pair["access"])
    _, files = verify_zip(body(api.call("get", f"/gdpr/exports/{token_from(mail.outbox[-1].body)}")))

    listed = json.loads(files["authenticators.json"])
    assert [(a["type"], a["name"], a["passwordless"]) for a in listed] == [
        ("totp", "TOTP Authenticator", None),
        ("recovery_codes", "Recovery codes", None),
        ("webauthn", "Ada's phone", True),
    ]
    assert listed[1]["recovery_codes_left"] == 9
    assert all(a["created_at"] for a in listed) and listed[0]["last_used_at"]
    everything = b"".join(files.values()).decode(errors="replace")
    stored = {a.type: a.data for a in Authenticator.objects.all()}
    secrets_ = [
        ada_with_mfa["secret"],
        stored["totp"]["secret"],
        *stored["recovery_codes"]["hashes"],
        *ada_with_mfa["recovery_codes"],
        stored["webauthn"]["credential"]["response"]["attestationObject"],
        ada_with_mfa["device"].id,
    ]
    assert not [s for s in secrets_ if s in everything]


def test_erasure_deletes_authenticators_and_challenges(
    api, ada_with_mfa, approver, time_machine, django_capture_on_commit_callbacks
):
    user = ada_with_mfa["user"]
    api.post_json("/auth/token", {"login": user.email, "password": PASSWORD})  # a pending login challenge
    pair = mfa_login(api, ada_with_mfa["secret"])
    assert MfaChallenge.objects.filter(user=user).exists()
    deleted = api.call("delete", "/me", {"password": PASSWORD}, token=pair["access"])
    assert deleted.status_code == 202, deleted.content
    request = DataRequest.objects.get(user=user, type="erasure")
    with django_capture_on_commit_callbacks(execute=True):
        services.erasure_approve(data_request=request, actor=approver)
    time_machine.move_to(timezone.now() + timedelta(days=8))

    with django_capture_on_commit_callbacks(execute=True):
        call_command("gdpr_run_erasures")

    assert DataRequest.objects.get(pk=request.pk).status == "completed"
    assert not Authenticator.objects.filter(user=user).exists()
    assert not MfaChallenge.objects.filter(user=user).exists()
    assert User.objects.get(pk=user.pk).mfa_methods == []
    erased = AuditEvent.objects.get(action="mfa.erased")
    assert erased.details == {"authenticators": 3, "challenges": 2}
    # Idempotent: a repeated run finds nothing and records nothing.
    from accounts import services as accounts_services

    assert accounts_services.mfa_erase(user=User.objects.get(pk=user.pk)) == {
        "authenticators": 0,
        "mfa_challenges": 0,
    }
    assert AuditEvent.objects.filter(action="mfa.erased").count() == 1
