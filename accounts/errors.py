from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError, RateLimited


class AccountsError(DomainError):
    pass


class ValidationFailed(AccountsError):
    status = 422
    code = "validation_error"
    message = _("The input did not validate.")

    def __init__(self, fields: dict[str, list[str]], message: str | None = None) -> None:
        super().__init__(message, details={"fields": fields})


class EmailTaken(AccountsError):
    status = 409
    code = "email_taken"
    message = _("An account with this e-mail address already exists.")


class UsernameTaken(AccountsError):
    status = 409
    code = "username_taken"
    message = _("This username is taken.")


class InvalidKey(AccountsError):
    status = 400
    code = "invalid_key"
    message = _("This verification link is invalid, expired or already used.")


class InvalidCredentials(AccountsError):
    status = 401
    code = "invalid_credentials"
    message = _("The login or password is not correct.")


class EmailNotVerified(AccountsError):
    status = 403
    code = "email_not_verified"
    message = _("Verify your e-mail address before logging in.")


class TokenInvalid(AccountsError):
    status = 401
    code = "token_invalid"
    message = _("The token is invalid or expired.")


class TokenReused(AccountsError):
    status = 401
    code = "token_reused"
    message = _("This refresh token was already used; the session has been ended for safety.")


class SessionRevoked(AccountsError):
    status = 401
    code = "session_revoked"
    message = _("This session has ended. Log in again.")


class WrongPassword(AccountsError):
    status = 400
    code = "wrong_password"
    message = _("The password is not correct.")


class SessionNotFound(AccountsError):
    status = 404
    code = "not_found"
    message = _("No such session.")


class AccountLocked(RateLimited, AccountsError):
    code = "locked"
    message = _("Too many failed logins for this account. Try again later.")


class InvalidToken(AccountsError):
    status = 400
    code = "invalid_token"
    message = _("This password-reset link is invalid, expired or already used.")


class FileTooLarge(AccountsError):
    status = 413
    code = "file_too_large"
    message = _("The file is larger than the allowed size.")


class UnsupportedImage(AccountsError):
    status = 415
    code = "unsupported_image"
    message = _("The file is not an image in an accepted format (PNG, JPEG or WebP).")


class InvalidImage(AccountsError):
    status = 422
    code = "invalid_image"
    message = _("The image is damaged, too large in pixels or carries foreign content.")

    def __init__(self, reason: str) -> None:
        super().__init__(details={"fields": {"file": [reason]}})


# --- social login (accounts/social) ---------------------------------------------------------------------


class UnknownProvider(AccountsError):
    status = 404
    code = "unknown_provider"
    message = _("No such social login provider is enabled here.")


class InvalidProviderToken(AccountsError):
    status = 400
    code = "invalid_provider_token"
    message = _("The provider did not accept this token or code.")


class ProviderEmailMissing(AccountsError):
    status = 400
    code = "provider_email_missing"
    message = _(
        "The provider did not share an e-mail address; allow access to it or register with a password."
    )


class ProviderUnavailable(AccountsError):
    status = 502
    code = "provider_unavailable"
    message = _("The login provider did not answer in time or failed. Try again later.")


class EmailConflict(AccountsError):
    status = 409
    code = "email_conflict"
    message = _(
        "An account already uses this e-mail address. Log in to it and link the provider from your "
        "account settings instead."
    )


class SocialAccountTaken(AccountsError):
    status = 409
    code = "social_account_taken"
    message = _("This provider account is already linked to another user.")


class LastLoginMethod(AccountsError):
    status = 409
    code = "last_login_method"
    message = _("This is your last way to log in; set a password or link another provider first.")


class ReauthRequired(AccountsError):
    status = 403
    code = "reauth_required"
    message = _("Log in again to confirm it is you, then retry.")


class AccountInactive(AccountsError):
    status = 403
    code = "account_inactive"
    message = _("This account is deactivated.")


class SocialAccountNotFound(AccountsError):
    status = 404
    code = "not_found"
    message = _("No such linked account.")


class SelfDeactivation(AccountsError):
    status = 409
    code = "self_deactivation"
    message = _("You cannot deactivate your own account.")


class NothingToVerify(AccountsError):
    status = 409
    code = "nothing_to_verify"
    message = _("This account is deleted or its e-mail address is already verified.")


class JwksUnavailable(AccountsError):
    status = 404
    code = "jwks_unavailable"
    message = _(
        "Tokens are signed with HS256, a secret shared with no other service, so they cannot be verified "
        "offline and there is no JWK set. Check a token with POST /api/v1/auth/token/verify, or configure "
        "RS256 signing keys (JWT_PRIVATE_KEY)."
    )


# --- multi-factor authentication (accounts/mfa, docs/mfa.md) ----------------------------------------------


class ChallengeInvalid(AccountsError):
    status = 401
    code = "challenge_invalid"
    message = _("This login step is unknown, expired or already used. Start the login again.")


class WrongCode(AccountsError):
    status = 400
    code = "wrong_code"
    message = _("The code is not correct, or it was already used.")


class WebauthnInvalid(AccountsError):
    status = 400
    code = "webauthn_invalid"
    message = _("The security key's answer did not verify. Try again.")


class SecondFactorRequired(AccountsError):
    status = 403
    code = "second_factor_required"
    message = _(
        "Confirm this change with your second factor: send a code in `otp`, or log in again with your "
        "second factor and retry."
    )


class MfaSetupExpired(AccountsError):
    status = 409
    code = "mfa_setup_expired"
    message = _("No enrollment is waiting for this answer, or it expired. Start it again.")


class TotpAlreadyEnabled(AccountsError):
    status = 409
    code = "totp_already_enabled"
    message = _("An authenticator app is already set up; remove it before setting up another.")


class MfaNotEnabled(AccountsError):
    status = 409
    code = "mfa_not_enabled"
    message = _("Set up an authenticator app or a security key first.")


class TooManyAuthenticators(AccountsError):
    status = 409
    code = "too_many_authenticators"
    message = _("You have registered as many security keys and passkeys as allowed; remove one first.")


class AuthenticatorNotFound(AccountsError):
    status = 404
    code = "not_found"
    message = _("No such security key or passkey.")


# --- staff actions (accounts/services/staff.py) ---------------------------------------------------------


class StaffOnly(AccountsError):
    status = 403
    code = "forbidden"
    message = _("Only active staff may do this.")


class StaffPermissionMissing(AccountsError):
    status = 403
    code = "forbidden"
    message = _("You do not have the permission this action needs.")


class StaffSelfAction(AccountsError):
    status = 403
    code = "forbidden"
    message = _("Staff may not do this to their own account; ask a colleague.")


class InsufficientRank(AccountsError):
    status = 403
    code = "insufficient_rank"
    message = _(
        "This account holds permissions you do not have (or is a superuser's): only staff who hold all of "
        "them may act on it."
    )


class NotLocked(AccountsError):
    status = 409
    code = "not_locked"
    message = _("This account has no failed sign-ins to clear and is not locked.")


class PasswordResetUnavailable(AccountsError):
    status = 409
    code = "password_reset_unavailable"
    message = _("This account is deleted or deactivated: a reset link would not work.")


class NotRestorable(AccountsError):
    status = 409
    code = "not_restorable"
    message = _("This account is not deleted, or its erasure has already run.")


class RestoreConflict(AccountsError):
    status = 409
    code = "restore_conflict"
    message = _(
        "Another account now uses this account's e-mail address or username, so it cannot be restored."
    )
