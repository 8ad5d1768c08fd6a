"""Checking a second factor, and spending it: a TOTP code (each time step is accepted once), a recovery code
(each code once; its use is mailed) or a WebAuthn assertion (the key's last use is recorded).

These are the bare checks. Callers go through accounts.services.reauth.second_factor_confirm, which adds the
lockout and the audit vocabulary shared with passwords.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import decrypt
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.mfa import recovery, totp, webauthn
from accounts.models import User
from audit import services as audit
from core import mail

logger = logging.getLogger(__name__)

TOTP = Authenticator.Type.TOTP
RECOVERY_CODES = Authenticator.Type.RECOVERY_CODES
WEBAUTHN = Authenticator.Type.WEBAUTHN


@dataclass(frozen=True)
class FactorUsed:
    authenticator: Authenticator
    # "totp", "recovery_code" or "webauthn".
    method: str
    # What the factor adds to a session's `amr` (RFC 8176): otp for codes, hwk (+ user when the key verified
    # the user) for WebAuthn.
    amr: tuple[str, ...]
    recovery_codes_left: int | None = None


def _totp_spend(authenticator: Authenticator, step: int) -> bool:
    """Record `step` as the last accepted one, unless a step at or after it was already accepted (a code is
    refused once one of its window was used, as RFC 6238 section 5.2 asks). One conditional UPDATE, so of
    two concurrent uses of one code exactly one wins."""
    data = {**authenticator.data, "last_step": step}
    spent = (
        Authenticator.objects.filter(pk=authenticator.pk)
        .filter(Q(data__last_step__isnull=True) | Q(data__last_step__lt=step))
        .update(data=data, last_used_at=timezone.now())
    )
    if spent:
        authenticator.data = data
    return bool(spent)


def _recovery_code_spend(authenticator: Authenticator, index: int) -> int | None:
    """Mark code `index` used (a compare-and-swap on the used mask); the codes left, or None when it was
    already used (also by a concurrent request)."""
    mask = int(authenticator.data.get("used_mask", 0))
    if mask & (1 << index):
        return None
    data = {**authenticator.data, "used_mask": mask | (1 << index)}
    swapped = Authenticator.objects.filter(pk=authenticator.pk, data__used_mask=mask).update(
        data=data, last_used_at=timezone.now()
    )
    if not swapped:
        return None
    authenticator.data = data
    return recovery.codes_left(data)


def code_check(
    *, user: User, code: str, authenticators: Sequence[Authenticator] | None = None
) -> FactorUsed | None:
    """`code` as a TOTP code, else as a recovery code, of `user`; spent when right. None when wrong or
    already used. `authenticators` are the user's TOTP and recovery-code rows when the caller loaded them."""
    if authenticators is None:
        authenticators = list(Authenticator.objects.filter(user=user, type__in=[TOTP, RECOVERY_CODES]))
    by_type = {a.type: a for a in authenticators}
    app = by_type.get(TOTP)
    digits = code.strip().replace(" ", "")
    if app is not None and digits.isdigit() and len(digits) == settings.MFA_TOTP_DIGITS:
        step = totp.step_of(decrypt(app.data["secret"]), digits)
        if step is None or not _totp_spend(app, step):
            return None
        return FactorUsed(authenticator=app, method="totp", amr=("otp",))
    codes = by_type.get(RECOVERY_CODES)
    if codes is None:
        return None
    index = recovery.code_index(list(codes.data.get("hashes", [])), user.pk, code)
    if index is None:
        return None
    with transaction.atomic():
        left = _recovery_code_spend(codes, index)
        if left is None:
            return None
        audit.record("mfa.recovery_code_used", actor=user, subject=user, details={"left": left})
        mail.enqueue(
            template="recovery_code_used",
            to=user.email,
            subject_id=user.pk,
            context={
                "first_name": user.first_name,
                "left": left,
                "when": timezone.now().isoformat(timespec="seconds"),
                "link": mail.link("/account/security"),
            },
        )
    return FactorUsed(authenticator=codes, method="recovery_code", amr=("otp",), recovery_codes_left=left)


def assertion_check(
    *,
    user: User,
    credential: dict[str, Any],
    state: dict[str, Any] | None,
    authenticators: Sequence[Authenticator] | None = None,
) -> FactorUsed | None:
    """A WebAuthn assertion answering `state` (the options handed out earlier), signed by one of the user's
    keys; its last use is recorded. None when it does not verify or no options were handed out."""
    if not state:
        return None
    if authenticators is None:
        authenticators = list(Authenticator.objects.filter(user=user, type=WEBAUTHN))
    try:
        assertion = webauthn.authentication_complete(state, list(authenticators), credential)
    except webauthn.WebauthnRefused as exc:
        logger.info("webauthn assertion refused for user %s: %s", user.pk, exc)
        return None
    key = assertion.authenticator
    key.last_used_at = timezone.now()
    Authenticator.objects.filter(pk=key.pk).update(last_used_at=key.last_used_at)
    amr = ("hwk", "user") if assertion.user_verified else ("hwk",)
    return FactorUsed(authenticator=key, method="webauthn", amr=amr)
