"""Writes of social login: log in or sign up with a provider identity, link one to a logged-in user, unlink.

The provider is asked first, outside any transaction (an HTTP call must not hold row locks); the database
work then happens in one transaction with its audit events. Linking rules are in docs/social.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts import errors, services
from accounts.models import Session, User
from accounts.social import providers
from accounts.social.providers import Credentials, Identity
from audit import services as audit
from core import mail

logger = logging.getLogger(__name__)

# amr of a provider login: "fed" (federated), a value in common use though not in RFC 8176's registry.
FEDERATED_AMR = ("fed",)


@dataclass(frozen=True)
class SocialLoginResult:
    # A session, or for a user with MFA the second step to take (the provider was the first factor).
    outcome: services.Opened | services.MfaRequired
    user_created: bool


def social_login(*, provider: str, credentials: Credentials) -> SocialLoginResult:
    """Log in with a provider identity, creating the user on first use. Never logs into an existing local
    account merely because the provider reports its e-mail address (409 email_conflict instead)."""
    identity = providers.identity_verify(provider=provider, credentials=credentials)
    try:
        return _social_login(identity)
    except IntegrityError:
        # A concurrent first login with the same identity (or e-mail) won the unique index; the second try
        # finds its row and logs into that user, or reports the conflict.
        return _social_login(identity)


def _social_login(identity: Identity) -> SocialLoginResult:
    with transaction.atomic():
        account = _account_locked(identity)
        if account is not None:
            return _login_linked(account, identity)
        if not identity.email:
            raise errors.ProviderEmailMissing()
        conflict = User.objects.by_login(identity.email).first()
        if conflict is None:
            user = _user_create(identity)
            session, pair = services.session_open(user=user, via=identity.provider, amr=FEDERATED_AMR)
            return SocialLoginResult(outcome=services.Opened(session=session, pair=pair), user_created=True)
        # A concurrent first login with this identity may have committed its user and link between our two
        # reads above (READ COMMITTED): that user is not a conflict, it is this identity's account.
        account = _account_locked(identity)
        if account is not None:
            return _login_linked(account, identity)
        # Committed, not rolled back: the refusal is kept in the owner's trail (and a stale link of a
        # deleted user, removed above, stays removed).
        audit.record(
            "auth.login_failed",
            subject=conflict,
            details={"reason": "social_email_conflict", "via": identity.provider},
        )
    raise errors.EmailConflict()


def _login_linked(account: SocialAccount, identity: Identity) -> SocialLoginResult:
    user = account.user
    if not user.is_active:
        raise errors.AccountInactive()
    account.extra_data = identity.extra_data
    account.save(update_fields=["extra_data", "last_login"])
    outcome = services.session_login_continue(user=user, via=identity.provider, amr=FEDERATED_AMR)
    return SocialLoginResult(outcome=outcome, user_created=False)


def _account_locked(identity: Identity) -> SocialAccount | None:
    """The live owner's link of this identity. A link whose user is soft-deleted is treated as absent and
    removed, so the identity never reaches the deleted account nor a new account reusing its e-mail by
    way of that link (see docs/social.md)."""
    account = (
        SocialAccount.objects.select_for_update()
        .select_related("user")
        .filter(provider=identity.provider, uid=identity.uid)
        .first()
    )
    if account is None:
        return None
    user: User = account.user
    if user.is_live:
        return account
    _account_delete(account, actor=None, reason="owner_deleted")
    return None


def _user_create(identity: Identity) -> User:
    assert identity.email  # checked by the caller
    now = timezone.now()
    user = User.objects.create_user(
        email=User.objects.normalize_email(identity.email),
        password=None,  # unusable: this user logs in through the provider until they set a password
        first_name=identity.first_name,
        last_name=identity.last_name,
        email_verified_at=now if identity.email_verified else None,
    )
    account = SocialAccount.objects.create(
        user=user, provider=identity.provider, uid=identity.uid, extra_data=identity.extra_data
    )
    audit.record(
        "user.registered",
        actor=user,
        subject=user,
        details={
            "via": identity.provider,
            "social_account_id": account.pk,
            "email_verified": identity.email_verified,
        },
    )
    if identity.email_verified:
        mail.enqueue(
            template="welcome",
            to=user.email,
            subject_id=user.pk,
            context={"first_name": user.first_name, "link": mail.link("/login")},
        )
    else:
        # The provider did not vouch for the address: its owner confirms it the usual way.
        services.verification_mail_enqueue(user)
    return user


def social_account_link(
    *,
    user: User,
    session: Session,
    provider: str,
    credentials: Credentials,
    password: str | None,
    otp: str | None = None,
) -> tuple[SocialAccount, bool]:
    """Link a provider identity to `user`, who re-authenticates first: with their password (wrong ones count
    toward the lockout) or on a session opened by a login within the re-auth window, and with their second
    factor too if they have one (`otp`, or a recent login that used it). Returns the account
    and whether it is new; linking an identity already linked to this user changes nothing."""
    services.reauth_check(
        session=session, password=password, otp=otp, purpose="social_link", password_required=False
    )
    identity = providers.identity_verify(provider=provider, credentials=credentials)
    try:
        with transaction.atomic():
            User.objects.select_for_update().filter(pk=user.pk).first()
            account = _account_locked(identity)
            if account is not None:
                if account.user_id != user.pk:
                    raise errors.SocialAccountTaken()
                return account, False
            account = SocialAccount.objects.create(
                user=user, provider=identity.provider, uid=identity.uid, extra_data=identity.extra_data
            )
            audit.record(
                "social.linked",
                actor=user,
                subject=user,
                details={"provider": identity.provider, "social_account_id": account.pk},
            )
            mail.enqueue(
                template="social_linked",
                to=user.email,
                subject_id=user.pk,
                context={
                    "first_name": user.first_name,
                    "provider": _provider_name(identity.provider),
                    "when": timezone.now().isoformat(timespec="seconds"),
                    "link": mail.link("/account/security"),
                },
            )
    except IntegrityError:
        # Someone linked the same identity concurrently.
        raise errors.SocialAccountTaken()
    return account, True


def social_account_unlink(
    *, user: User, account_id: int, actor: User | None = None, reason: str = ""
) -> None:
    """Remove one of the user's links; 404 for another user's id, 409 when it is the last way to log in.
    The user unlinks their own (`actor` None or the user); support unlinks one for them
    (services.SOCIAL_UNLINK), with a reason kept in the audit event."""
    actor = actor or user
    by_staff = actor.pk != user.pk
    if by_staff:
        services.staff_action_authorize(actor=actor, target=user, action=services.SOCIAL_UNLINK)
    with transaction.atomic():
        # The user row lock serialises concurrent unlinks, so two of them cannot each leave "another one".
        User.objects.select_for_update().filter(pk=user.pk).first()
        account = SocialAccount.objects.filter(pk=account_id, user=user).first()
        if account is None:
            raise errors.SocialAccountNotFound()
        others = SocialAccount.objects.filter(user=user).exclude(pk=account.pk).exists()
        if not others and not user.has_usable_password():
            if by_staff:
                raise errors.LastLoginMethod(
                    gettext(
                        "This is the user's last way to log in: they must set a password or link another "
                        "provider first."
                    )
                )
            raise errors.LastLoginMethod()
        _account_delete(account, actor=actor, reason="unlinked", note=reason if by_staff else "")


def social_accounts_erase(*, user: User) -> dict[str, int]:
    """Erasure: delete the user's provider tokens, links and allauth e-mail rows. Idempotent; writes no
    audit event of its own (the erasure that calls it records the counts)."""
    with transaction.atomic():
        social_tokens, _ = SocialToken.objects.filter(account__user=user).delete()
        social_accounts, _ = SocialAccount.objects.filter(user=user).delete()
        EmailAddress.objects.filter(user=user).delete()
    return {"social_accounts": social_accounts, "social_tokens": social_tokens}


def _account_delete(account: SocialAccount, *, actor: User | None, reason: str, note: str = "") -> None:
    details = {"provider": account.provider, "social_account_id": account.pk, "reason": reason}
    if note:
        details["note"] = note
    audit.record("social.unlinked", actor=actor, subject=account.user_id, details=details)
    account.delete()


def _provider_name(provider: str) -> str:
    return {"google": "Google", "github": "GitHub", "facebook": "Facebook"}.get(provider, provider)
