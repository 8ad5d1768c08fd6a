from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_POST

from accounts import forms as accounts_forms
from accounts import services

_login = auth_views.LoginView.as_view(
    template_name="console/login.html",
    authentication_form=accounts_forms.StaffAuthenticationForm,
    redirect_authenticated_user=True,
    next_page="console:home",
)
_logout = auth_views.LogoutView.as_view(next_page="console:login")


def login(request: HttpRequest) -> HttpResponseBase:
    return _login(request)


@require_POST
def logout(request: HttpRequest) -> HttpResponseBase:
    if request.user.is_authenticated:
        services.staff_logout(user=request.user, door="console")
    return _logout(request)
