from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,30}$"


class UserQuerySet(models.QuerySet["User"]):
    def live(self) -> UserQuerySet:
        return self.filter(deleted_at__isnull=True)

    def by_login(self, login: str) -> UserQuerySet:
        """Live users whose e-mail (if `login` has an @) or username matches, ignoring case.

        Usernames cannot contain "@", so one login string names at most one live user; the lookups use the
        partial functional unique indexes below.
        """
        value = login.strip().lower()
        if "@" in value:
            return self.live().alias(email_lower=Lower("email")).filter(email_lower=value)
        return self.live().alias(username_lower=Lower("username")).filter(username_lower=value)


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        # Django's authenticate() and createsuperuser call this: it must pick the one live user.
        return self.get_queryset().by_login(username or "").get()

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user: User = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        Profile.objects.using(self._db).create(user=user)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("email_verified_at", timezone.now())
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254)
    username = models.CharField(max_length=30, null=True, blank=True)
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The second factors the user has on ("totp", "webauthn", "recovery_codes"), kept by accounts.services.mfa
    # in the transaction of every change to the user's allauth Authenticator rows. A copy on the user row,
    # so that a login and GET /me know it from the one query that loads the user.
    mfa_methods = models.JSONField(default=list, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        # What staff may do to other users, one permission per action (docs/console.md, "Permissions").
        # Viewing users is Django's default `view_user`; `change_user` is the admin's edit of a user.
        permissions = [
            ("force_logout", "Can end a user's sessions (one, or everywhere)"),
            ("deactivate_user", "Can deactivate and reactivate a user"),
            ("resend_verification", "Can resend a user's verification e-mail"),
            ("send_password_reset", "Can send a user a password-reset link"),
            ("clear_lockout", "Can clear a user's login lockout"),
            ("restore_user", "Can restore a soft-deleted user before the erasure runs"),
            ("unlink_social_account", "Can unlink a user's social account"),
            ("reset_mfa", "Can reset a user's second factors (remove every authenticator)"),
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=Q(deleted_at__isnull=True),
                name="accounts_user_live_email_uniq",
                violation_error_code="email_taken",
            ),
            models.UniqueConstraint(
                Lower("username"),
                condition=Q(deleted_at__isnull=True) & Q(username__isnull=False),
                name="accounts_user_live_username_uniq",
                violation_error_code="username_taken",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_live(self) -> bool:
        return self.deleted_at is None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def mfa_enabled(self) -> bool:
        return bool(self.mfa_methods)

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name


class Profile(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="profile")
    phone = models.CharField(max_length=32, blank=True, default="")
    birth_date = models.DateField(null=True, blank=True)
    website = models.URLField(max_length=200, blank=True, default="")
    bio = models.TextField(max_length=2000, blank=True, default="")
    locale = models.CharField(max_length=16, blank=True, default="")
    avatar = models.CharField(max_length=255, blank=True, default="")
    avatar_thumbnail = models.CharField(max_length=255, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"profile of {self.user_id}"


class RevokeReason(models.TextChoices):
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    REVOKED = "revoked"
    TOKEN_REUSED = "token_reused"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    PASSWORD_SET_BY_STAFF = "password_set_by_staff"
    USER_DELETED = "user_deleted"
    FORCE_LOGOUT = "force_logout"
    DEACTIVATED = "deactivated"
    ERASED = "erased"


class Session(models.Model):
    """One login on one device. Refresh tokens belong to it; only the hashes of the current and the
    previous refresh token are stored (the previous one to tell a concurrent duplicate from a replay)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    via = models.CharField(max_length=32, default="password")
    # How the login that opened the session was authenticated, as RFC 8176 `amr` values (docs/mfa.md):
    # ["pwd"], ["fed"], ["pwd", "otp", "mfa"], ["hwk", "user", "mfa"], …; access tokens carry it.
    amr = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField()
    refresh_hash = models.CharField(max_length=64)
    previous_refresh_hash = models.CharField(max_length=64, blank=True, default="")
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=32, choices=RevokeReason.choices, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="accounts_session_user_idx"),
            models.Index(fields=["expires_at"], name="accounts_session_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"session {self.id}"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class MfaChallenge(models.Model):
    """A pending step of an MFA flow. Only the hash of a token handed to a client is stored.

    - login: the first factor (password, provider) passed for a user with MFA; the `mfa_token` the client
      sends with the second factor. `session_id` is the id of the session the login opens: inserting that
      session spends the token (a second verify fails on the primary key). `data["webauthn"]` holds the
      WebAuthn assertion state when the user has security keys.
    - passkey_login: a passwordless WebAuthn login was started (no user yet); `data["webauthn"]` as above.
    - totp_setup / webauthn_setup: an enrollment a signed-in user started (the encrypted TOTP secret, or
      the WebAuthn registration state); one per user and kind, replaced by a new start.
    Expired rows are deleted by the session retention job.
    """

    class Kind(models.TextChoices):
        LOGIN = "login"
        PASSKEY_LOGIN = "passkey_login"
        TOTP_SETUP = "totp_setup"
        WEBAUTHN_SETUP = "webauthn_setup"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="mfa_challenges"
    )
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    session_id = models.UUIDField(null=True, blank=True)
    via = models.CharField(max_length=32, blank=True, default="")
    amr = models.JSONField(default=list, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["user", "kind"], name="accounts_mfachallenge_user_idx"),
            models.Index(fields=["expires_at"], name="accounts_mfachallenge_exp_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} challenge {self.id}"
