"""The admin's views of accounts. What the services own is read-only here; the few edits the admin keeps
(staff access, activation, a password set) go through the services, so they are audited with the staff
member as actor and end sessions where they must (docs/console.md, "The admin")."""

from __future__ import annotations

import copy
import functools
from typing import Any, cast

from allauth.mfa.models import Authenticator
from allauth.socialaccount.admin import SocialAccountAdmin as BaseSocialAccountAdmin
from allauth.socialaccount.models import SocialAccount
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.forms import Form, ModelForm
from django.http import HttpRequest, HttpResponse

from accounts import forms, services
from accounts.models import Profile, Session, User


class ProfileInline(admin.StackedInline):
    """Read-only: profile edits are the user's own (PATCH /me), with its validation and audit."""

    model = Profile
    can_delete = False
    readonly_fields = ("phone", "birth_date", "website", "bio", "locale", "avatar", "avatar_thumbnail")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("-date_joined",)
    list_display = (
        "email",
        "username",
        "first_name",
        "last_name",
        "is_staff",
        "email_verified_at",
        "deleted_at",
    )
    list_filter = ("is_staff", "is_active", "deleted_at")
    search_fields = ("email", "username", "first_name", "last_name")
    # E-mail, names and the account's life cycle belong to flows with their own checks, mails and audit
    # (e-mail change, PATCH /me, deletion, verification).
    readonly_fields = (
        "email",
        "username",
        "first_name",
        "last_name",
        "date_joined",
        "last_login",
        "deleted_at",
        "email_verified_at",
    )
    inlines = [ProfileInline]
    fieldsets = (
        (None, {"fields": ("email", "username", "password")}),
        ("Names", {"fields": ("first_name", "last_name")}),
        ("Status", {"fields": ("is_active", "is_staff", "is_superuser", "email_verified_at", "deleted_at")}),
        ("Permissions", {"fields": ("groups", "user_permissions")}),
        ("Dates", {"fields": ("date_joined", "last_login")}),
    )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The rank rule of every staff door: an account holding permissions the staff member lacks (or a
        # superuser's, for anyone but a superuser) is view-only here, its password page 403.
        if obj is not None and not services.staff_may_act_on(
            actor=cast(User, request.user), target=obj, action=services.USER_CHANGE
        ):
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields: tuple[str, ...] = self.readonly_fields
        # Nobody deactivates themselves (the service refuses it too), and only staff holding
        # accounts.deactivate_user deactivate anyone.
        if obj is not None and not services.staff_may_act_on(
            actor=cast(User, request.user), target=obj, action=services.USER_DEACTIVATE
        ):
            fields = (*fields, "is_active")
        # Staff with the change permission but not superusers could otherwise grant themselves anything.
        if not request.user.is_superuser:
            fields = (*fields, "is_staff", "is_superuser", "groups", "user_permissions")
        return fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Accounts are created by sign-up (POST /auth/register), social login or `createsuperuser`.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Soft deletion (through the API or the console) is the only deletion of users.
        return False

    def save_model(self, request: HttpRequest, obj: User, form: ModelForm, change: bool) -> None:
        """The change form carries only staff access (superusers only) and activation; each goes through
        its service."""
        data, actor = form.cleaned_data, cast(User, request.user)  # admin views are for signed-in staff
        if "is_superuser" in form.fields:
            services.user_access_set(
                user=obj,
                actor=actor,
                is_staff=data["is_staff"],
                is_superuser=data["is_superuser"],
                groups=data["groups"],
                permissions=data["user_permissions"],
            )
        if "is_active" in form.changed_data:
            if data["is_active"]:
                services.user_reactivate(user=obj, actor=actor)
            else:
                services.user_deactivate(user=obj, actor=actor, reason="admin")

    def save_related(self, request: HttpRequest, form: Form, formsets: Any, change: bool) -> None:
        # save_model wrote the groups and permissions; the profile inline has no editable field, so saving
        # its formset only does the admin's bookkeeping.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        # Django's view builds `self.change_password_form(user, data)`; a copy of this admin for this request
        # binds the acting staff member to the form, which saves through services.password_set.
        actor = cast(User, request.user)
        # Setting a staff account's password is taking it over: superusers only.
        target = self.get_object(request, unquote(id))
        if target is not None and target.is_staff and not actor.is_superuser:
            raise PermissionDenied
        view = copy.copy(self)
        view.change_password_form = functools.partial(forms.PasswordSetForm, actor=actor)  # type: ignore[assignment]
        return BaseUserAdmin.user_change_password(view, request, id, form_url)


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "via", "created_at", "last_seen_at", "revoked_at", "revoke_reason")
    readonly_fields = [f.name for f in Session._meta.fields]
    exclude = ("refresh_hash", "previous_refresh_hash")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


admin.site.unregister(SocialAccount)


@admin.register(SocialAccount)
class SocialAccountAdmin(BaseSocialAccountAdmin):
    """allauth's view of linked identities, read-only: linking and unlinking (with the last-login-method rule,
    the audit and the mail) are the user's own, through /me/social-accounts."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# allauth.mfa registers an editor of Authenticator rows. Second factors change only through
# accounts.services.mfa (audit, mails, User.mfa_methods), so the admin shows them and never their secrets.
admin.site.unregister(Authenticator)


@admin.register(Authenticator)
class AuthenticatorAdmin(admin.ModelAdmin):
    list_display = ("user", "type", "created_at", "last_used_at")
    list_filter = ("type",)
    raw_id_fields = ("user",)
    exclude = ("data",)
    readonly_fields = ("user", "type", "created_at", "last_used_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
