"""E-mail address change: asked for with a recent authentication, applied only from the link mailed to the
new address, and only if that address is still free among live users."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts import errors, ratelimit, selectors
from accounts.models import Session, User
from accounts.services import reauth
from audit import services as audit
from core import mail

EMAIL_CHANGE_SALT = "accounts.email-change"


def _fingerprint(user: User) -> str:
    # The key dies once the address changes (single use) or the password changes (account recovery).
    state = f"{user.email.lower()}|{user.password}"
    return hashlib.sha256(state.encode()).hexdigest()[:24]


def email_change_request(
    *, session: Session, new_email: str, password: str | None = None, otp: str | None = None
) -> str:
    """Start an e-mail change. The answer is the same whether or not `new_email` is free, so the door does
    not tell which addresses have accounts: a free address gets a confirmation link; a taken one gets a
    notice to its owner instead (and nothing the requester could use). The current address is told either
    way. Limited per account and per target address (429), since each request sends mail to an address the
    requester chose. Mails to the target address carry no text the requester wrote (their names).
    Nothing changes until the link is used. Returns the normalised new address."""
    user = session.user
    reauth.reauth_check(
        session=session, password=password, purpose="email_change", password_required=False, otp=otp
    )
    new_email = User.objects.normalize_email(new_email.strip())
    if new_email.lower() == user.email.lower():
        raise errors.ValidationFailed({"new_email": [gettext("This is already your e-mail address.")]})
    ratelimit.hit("email_change_account", str(user.pk))
    ratelimit.hit("email_change_address", new_email)
    owner = User.objects.exclude(pk=user.pk).by_login(new_email).first()
    now = timezone.now().isoformat(timespec="seconds")
    with transaction.atomic():
        audit.record(
            "user.email_change_requested", actor=user, subject=user, details={"new_email": new_email}
        )
        if owner is None:
            key = signing.dumps(
                {"u": str(user.pk), "e": new_email, "f": _fingerprint(user)},
                salt=EMAIL_CHANGE_SALT,
                compress=True,
            )
            mail.enqueue(
                template="email_change_confirm",
                to=new_email,
                subject_id=user.pk,
                context={
                    "link": mail.link("/confirm-email-change", key=key),
                    "hours": settings.EMAIL_CHANGE_MAX_AGE_HOURS,
                },
            )
        else:
            # In the owner's trail only, with no actor: the requester's own trail and export must read the
            # same as for a free address. Staff can join the two events by their request id.
            audit.record("user.email_change_targeted", subject=owner)
            mail.enqueue(
                template="email_change_targeted",
                to=owner.email,
                subject_id=owner.pk,
                context={"when": now, "link": mail.link("/account/security")},
            )
        mail.enqueue(
            template="email_change_requested",
            to=user.email,
            subject_id=user.pk,
            context={
                "first_name": user.first_name,
                "new_email": new_email,
                "when": now,
                "link": mail.link("/account/security"),
            },
        )
    return new_email


def email_change_confirm(*, key: str) -> User:
    """Apply a change from its link. Raises InvalidKey (bad, expired or spent link), EmailTaken (the address
    went to someone else meanwhile)."""
    try:
        data = signing.loads(
            key, salt=EMAIL_CHANGE_SALT, max_age=timedelta(hours=settings.EMAIL_CHANGE_MAX_AGE_HOURS)
        )
        user_id, new_email, fingerprint = uuid.UUID(str(data["u"])), str(data["e"]), str(data["f"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise errors.InvalidKey()
    try:
        with transaction.atomic():
            user = User.objects.live().select_for_update().filter(pk=user_id, is_active=True).first()
            if user is None or not hmac.compare_digest(fingerprint, _fingerprint(user)):
                raise errors.InvalidKey()
            if selectors.login_taken(email=new_email, username=None, exclude=user.pk):
                raise errors.EmailTaken()
            old_email = user.email
            user.email = new_email
            user.email_verified_at = timezone.now()
            user.save(update_fields=["email", "email_verified_at"])
            audit.record(
                "user.email_changed",
                actor=user,
                subject=user,
                details={"old_email": old_email, "new_email": new_email},
            )
            mail.enqueue(
                template="email_changed",
                to=old_email,
                subject_id=user.pk,
                context={
                    "first_name": user.first_name,
                    "new_email": new_email,
                    "when": timezone.now().isoformat(timespec="seconds"),
                    "link": mail.link("/account/security"),
                },
            )
    except IntegrityError:
        # A concurrent registration or change took the address between the check and the save.
        raise errors.EmailTaken()
    return user
