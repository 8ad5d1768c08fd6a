from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest

from accounts.models import Profile, Session, User


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    readonly_fields = ("avatar", "avatar_thumbnail")


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
    readonly_fields = ("date_joined", "last_login", "deleted_at", "email_verified_at")
    inlines = [ProfileInline]
    fieldsets = (
        (None, {"fields": ("email", "username", "password")}),
        ("Names", {"fields": ("first_name", "last_name")}),
        ("Status", {"fields": ("is_active", "is_staff", "is_superuser", "email_verified_at", "deleted_at")}),
        ("Permissions", {"fields": ("groups", "user_permissions")}),
        ("Dates", {"fields": ("date_joined", "last_login")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Soft deletion (through the API or the console) is the only deletion of users.
        return False


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "via", "created_at", "last_seen_at", "revoked_at", "revoke_reason")
    readonly_fields = [f.name for f in Session._meta.fields]
    exclude = ("refresh_hash", "previous_refresh_hash")

    def has_add_permission(self, request: HttpRequest) -> bool:
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
