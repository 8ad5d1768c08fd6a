"""Password-reset links: the token generator and the link a reset mail carries. Apart from the password
services so that the lockout notice (which re-authentication feeds) can carry a link too."""

from __future__ import annotations

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from core import mail


class ResetTokenGenerator(PasswordResetTokenGenerator):
    """Django's generator: the token hashes the user's id, password hash, last_login, e-mail and its own
    timestamp, so it dies when the password changes (single use), on any login (session_open sets
    last_login), on an e-mail change, and after PASSWORD_RESET_TIMEOUT seconds (≤ 1 h)."""

    # The salt keeps its historical name: changing it would void every reset link already mailed.
    key_salt = "accounts.services_passwords.ResetTokenGenerator"


reset_tokens = ResetTokenGenerator()


def password_reset_uid(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(str(user.pk)))


def password_reset_link(user: User) -> str:
    """A fresh single-use reset link for the user (for a mail to their own address only)."""
    return mail.link("/reset-password", uid=password_reset_uid(user), token=reset_tokens.make_token(user))
