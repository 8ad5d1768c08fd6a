"""The eraser registry: every class listed in settings.GDPR_ERASERS removes one app's personal data of a user.

`erase(ctx)` runs inside the erasure's transaction, must be idempotent (a re-run after a crash repeats it) and
returns counts for the audit event. Storage deletions cannot roll back; that is fine because a repeated run
finds nothing left to delete. The audit log is pseudonymised after every eraser has run (gdpr.services), so
events written during the erasure are covered too. See docs/gdpr.md for an example eraser of another app.
"""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts import services as accounts_services
from accounts.models import Profile, RevokeReason, Session, User
from gdpr.models import ConsentRecord, DataRequest, ExportFile


@dataclass
class ErasureContext:
    user: User
    data_request: DataRequest


class Eraser:
    def erase(self, ctx: ErasureContext) -> dict[str, int]:
        raise NotImplementedError


def erasers_load() -> list[Eraser]:
    return [import_string(path)() for path in settings.GDPR_ERASERS]


def storage_delete(path: str) -> int:
    if path and default_storage.exists(path):
        default_storage.delete(path)
        return 1
    return 0


class ExportFilesEraser(Eraser):
    def erase(self, ctx: ErasureContext) -> dict[str, int]:
        files = ExportFile.objects.filter(request__user=ctx.user)
        deleted = sum(storage_delete(f.storage_path) for f in files)
        rows, _ = files.delete()
        return {"export_files": deleted, "export_rows": rows}


class AvatarEraser(Eraser):
    def erase(self, ctx: ErasureContext) -> dict[str, int]:
        profile = Profile.objects.filter(user=ctx.user).first()
        if profile is None:
            return {"avatar_files": 0}
        deleted = storage_delete(profile.avatar) + storage_delete(profile.avatar_thumbnail)
        Profile.objects.filter(pk=profile.pk).update(avatar="", avatar_thumbnail="")
        return {"avatar_files": deleted}


class SocialAccountsEraser(Eraser):
    def erase(self, ctx: ErasureContext) -> dict[str, int]:
        tokens, _ = SocialToken.objects.filter(account__user=ctx.user).delete()
        accounts, _ = SocialAccount.objects.filter(user=ctx.user).delete()
        EmailAddress.objects.filter(user=ctx.user).delete()
        return {"social_accounts": accounts, "social_tokens": tokens}


class AuthenticatorsEraser(Eraser):
    """Second factors (TOTP, security keys and passkeys, recovery codes) and pending MFA challenges."""

    def erase(self, ctx: ErasureContext) -> dict[str, int]:
        return accounts_services.mfa_erase(user=ctx.user)


class SessionsEraser(Eraser):
    def erase(self, ctx: ErasureContext) -> dict[str, int]:
        revoked = accounts_services.sessions_revoke_all(user=ctx.user, actor=None, reason=RevokeReason.ERASED)
        Session.objects.filter(user=ctx.user).update(ip=None, user_agent="")
        return {"sessions_revoked": revoked}


class ConsentsEraser(Eraser):
    """The ledger stays (proof of what was agreed); the IP it was given from goes."""

    def erase(self, ctx: ErasureContext) -> dict[str, int]:
        return {"consents_blanked": ConsentRecord.objects.filter(user=ctx.user).update(ip=None)}


class UserEraser(Eraser):
    """Keeps the row (soft-deleted, inactive, no usable password) with every personal field blank."""

    def erase(self, ctx: ErasureContext) -> dict[str, int]:
        user = User.objects.get(pk=ctx.user.pk)
        user.email = ""
        user.username = None
        user.first_name = ""
        user.last_name = ""
        user.is_active = False
        user.deleted_at = user.deleted_at or timezone.now()
        user.set_unusable_password()
        user.save(
            update_fields=[
                "email",
                "username",
                "first_name",
                "last_name",
                "is_active",
                "deleted_at",
                "password",
            ]
        )
        Profile.objects.filter(user=user).update(
            phone="", birth_date=None, website="", bio="", locale="", avatar="", avatar_thumbnail=""
        )
        return {"user": 1}
