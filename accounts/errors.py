from __future__ import annotations

from typing import Any

from config.errors import DomainError


class AccountsError(DomainError):
    pass


class ValidationFailed(AccountsError):
    status = 422
    code = "validation_error"
    message = "The input did not validate."

    def __init__(self, fields: dict[str, list[str]], message: str | None = None) -> None:
        super().__init__(message, details={"fields": fields})


class EmailTaken(AccountsError):
    status = 409
    code = "email_taken"
    message = "An account with this e-mail address already exists."


class UsernameTaken(AccountsError):
    status = 409
    code = "username_taken"
    message = "This username is taken."


class InvalidKey(AccountsError):
    status = 400
    code = "invalid_key"
    message = "This verification link is invalid, expired or already used."


class InvalidCredentials(AccountsError):
    status = 401
    code = "invalid_credentials"
    message = "The login or password is not correct."


class EmailNotVerified(AccountsError):
    status = 403
    code = "email_not_verified"
    message = "Verify your e-mail address before logging in."


class TokenInvalid(AccountsError):
    status = 401
    code = "token_invalid"
    message = "The token is invalid or expired."


class TokenReused(AccountsError):
    status = 401
    code = "token_reused"
    message = "This refresh token was already used; the session has been ended for safety."


class SessionRevoked(AccountsError):
    status = 401
    code = "session_revoked"
    message = "This session has ended. Log in again."


class WrongPassword(AccountsError):
    status = 400
    code = "wrong_password"
    message = "The password is not correct."


class SessionNotFound(AccountsError):
    status = 404
    code = "not_found"
    message = "No such session."


CODES: dict[str, tuple[int, str]] = {
    cls.code: (cls.status, cls.message)
    for cls in (
        ValidationFailed,
        EmailTaken,
        UsernameTaken,
        InvalidKey,
        InvalidCredentials,
        EmailNotVerified,
        TokenInvalid,
        TokenReused,
        SessionRevoked,
        WrongPassword,
    )
}


def field_errors(exc: Any) -> dict[str, list[str]]:
    """Django ValidationError → {field: [messages]}."""
    if hasattr(exc, "message_dict"):
        return {k: list(v) for k, v in exc.message_dict.items()}
    return {"__all__": list(exc.messages)}


class SelfDeactivation(AccountsError):
    status = 409
    code = "self_deactivation"
    message = "You cannot deactivate your own account."


class NothingToVerify(AccountsError):
    status = 409
    code = "nothing_to_verify"
    message = "This account is deleted or its e-mail address is already verified."
