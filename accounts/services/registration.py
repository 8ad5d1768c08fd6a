"""Sign-up and e-mail verification."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import errors, ratelimit, selectors, validators
from accounts.models import User
from accounts.services import staff
from audit import services as audit
from core import mail, outbox

VERIFY_SALT = "accounts.email-verify"
RESEND_TOPIC = "accounts.verification_resend_requested"


def user_register(
    *, email: str, password: str, username: str | None = None, first_name: str = "", last_name: str = ""
) -> User:
    email = User.objects.normalize_email(email.strip())
    ratelimit.hit("register_address", email)
    username = username or None
    candidate = User(email=email, username=username, first_name=first_name, last_name=last_name)
    problems = validators.password_problems(password, candidate)
    if problems:
        raise errors.ValidationFailed(problems)
    taken = selectors.login_taken(email=email, username=username)
    if taken:
        raise taken
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email, password=password, username=username, first_name=first_name, last_name=last_name
            )
            audit.record("user.registered", actor=user, subject=user, details={"via": "password"})
            verification_mail_enqueue(user)
    except IntegrityError:
        # A concurrent registration won the partial unique index.
        raise selectors.login_taken(email=email, username=username) or errors.EmailTaken()
    return user


def _verify_fingerprint(user: User) -> str:
    state = f"{user.email.lower()}|{user.email_verified_at.isoformat() if user.email_verified_at else ''}"
    return hashlib.sha256(state.encode()).hexdigest()[:24]


def email_verification_key(user: User) -> str:
    """HMAC-signed, expiring, single use: the key embeds a fingerprint of the unverified state it was made for."""
    return signing.dumps({"u": str(user.pk), "f": _verify_fingerprint(user)}, salt=VERIFY_SALT, compress=True)


def verification_mail_enqueue(user: User) -> None:
    """Owe the verification mail (in the caller's transaction). The address is not proven to be the
    registrant's, so the mail carries nothing the registrant wrote (their names)."""
    key = email_verification_key(user)
    mail.enqueue(
        template="verify",
        to=user.email,
        subject_id=user.pk,
        context={
            "key": key,
            "link": mail.link("/verify-email", key=key),
            "hours": settings.EMAIL_VERIFY_MAX_AGE_HOURS,
        },
    )


def email_verify(*, key: str) -> User:
    try:
        data = signing.loads(
            key, salt=VERIFY_SALT, max_age=timedelta(hours=settings.EMAIL_VERIFY_MAX_AGE_HOURS)
        )
        user_id, fingerprint = uuid.UUID(str(data["u"])), str(data["f"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise errors.InvalidKey()
    with transaction.atomic():
        user = User.objects.live().select_for_update().filter(pk=user_id).first()
        if (
            user is None
            or user.email_verified
            or not hmac.compare_digest(fingerprint, _verify_fingerprint(user))
        ):
            raise errors.InvalidKey()
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
        audit.record("user.email_verified", actor=user, subject=user)
        mail.enqueue(
            template="welcome",
            to=user.email,
            subject_id=user.pk,
            context={"first_name": user.first_name, "link": mail.link("/login")},
        )
    return user


def email_verification_resend(*, email: str) -> None:
    """Sends a new key if a live, unverified user has this address; says nothing either way. The lookup
    happens off the request path (an outbox handler), so the answer's timing does not tell either."""
    ratelimit.hit("resend_address", email)
    with transaction.atomic():
        outbox.publish(RESEND_TOPIC, {"email": email})


def email_verification_resend_deliver(*, email: str) -> bool:
    """The outbox handler's half of a resend. Returns whether a mail was owed."""
    user = (
        User.objects.by_login(email).filter(email_verified_at__isnull=True).first() if "@" in email else None
    )
    if user is None:
        return False
    email_verification_send(user=user, actor=user)
    return True


def email_verification_send(*, user: User, actor: User) -> None:
    """Send a new verification key to one live, unverified user; `actor` is the user (API resend) or the
    staff member (console; staff.VERIFICATION_RESEND) named in the audit event."""
    if actor.pk != user.pk:
        staff.staff_action_authorize(actor=actor, target=user, action=staff.VERIFICATION_RESEND)
    if not user.is_live or user.email_verified:
        raise errors.NothingToVerify()
    with transaction.atomic():
        audit.record("user.verification_resent", actor=actor, subject=user)
        verification_mail_enqueue(user)
