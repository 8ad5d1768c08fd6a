"""The admin site with the staff doors' rules: its login goes through the one credential check (the
console's form, so the same lockout, per-IP limit and audit), its logout is audited, and a staff member's
own password change re-authenticates through the accounts services. Installed by
`accounts.apps.StaffAdminConfig` in place of `django.contrib.admin`."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.views import PasswordChangeView
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts import forms, services


class StaffAdminSite(admin.AdminSite):
    login_form = forms.AdminLoginForm

    def logout(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        if request.method == "POST" and request.user.is_authenticated:
            services.staff_logout(user=request.user, door="admin")
        return super().logout(request, extra_context)

    def password_change(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        # Django's view with our form: its own form checks the old password outside the lockout and saves
        # the new one without ending the user's API sessions.
        defaults: dict[str, Any] = {
            "form_class": forms.OwnPasswordChangeForm,
            "success_url": reverse("admin:password_change_done", current_app=self.name),
            "extra_context": {**self.each_context(request), **(extra_context or {})},
        }
        if self.password_change_template is not None:
            defaults["template_name"] = self.password_change_template
        request.current_app = self.name
        # A redirect after a success, whatever the stubs say about Django's method.
        return PasswordChangeView.as_view(**defaults)(request)  # type: ignore[return-value]
