"""The built-in erasers (listed in settings.GDPR_ERASERS; the contract is in gdpr.services.erasure): each is
a thin adapter that asks the owner of the data to erase it and returns the owner's counts."""

from __future__ import annotations

from accounts import services as accounts_services
from accounts.social import services as social_services
from core import outbox
from gdpr import services
from gdpr.services.erasure import Eraser, ErasureContext

__all__ = [
    "AvatarEraser",
    "ConsentsEraser",
    "Eraser",
    "ErasureContext",
    "ExportFilesEraser",
    "OutboxEraser",
    "SessionsEraser",
    "SocialAccountsEraser",
    "UserEraser",
]


class ExportFilesEraser(Eraser):
    def erase(self, ctx: ErasureContext) -> dict[str, int]:
        return services.export_files_erase(user=ctx.user)


class AvatarEraser(Eraser):
    def erase(self, ctx: ErasureContext) -> dict[str, int]:
        return {"avatar_files": accounts_services.avatar_erase(user=ctx.user)}


class SocialAccountsEraser(Eraser):
    def erase(self, ctx: ErasureContext) -> dict[str, int]:
        return social_services.social_accounts_erase(user=ctx.user)


class AuthenticatorsEraser(Eraser):
    """Second factors (TOTP, security keys and passkeys, recovery codes) and pending MFA challenges."""

    def erase(self, ctx: ErasureContext) -> dict[str, int]:
        return accounts_services.mfa_erase(user=ctx.user)


class SessionsEraser(Eraser):
    def erase(self, ctx: ErasureContext) -> dict[str, int]:
        return {"sessions_revoked": accounts_services.sessions_erase(user=ctx.user)}


class ConsentsEraser(Eraser):
    def erase(self, ctx: ErasureContext) -> dict[str, int]:
        return {"consents_blanked": services.consents_erase(user=ctx.user)}


class OutboxEraser(Eraser):
    """Undelivered side effects about the user (mails carry their address and name). The erasure's own
    confirmation mail is published without a subject, so it survives and reaches the address once more."""

    def erase(self, ctx: ErasureContext) -> dict[str, int]:
        return {"outbox_rows": outbox.forget_subject(subject_id=ctx.user.pk)}


class UserEraser(Eraser):
    def erase(self, ctx: ErasureContext) -> dict[str, int]:
        accounts_services.user_erase(user=ctx.user)
        return {"user": 1}
