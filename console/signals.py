"""Console sign-ins and sign-outs go into the audit trail (Django's auth signals, for console requests only)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from audit import services as audit


def _console(request: HttpRequest | None) -> bool:
    return request is not None and request.path.startswith("/console/")


@receiver(user_logged_in, dispatch_uid="console.login")
def on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if _console(request):
        audit.record("console.login", actor=user, subject=user)


@receiver(user_logged_out, dispatch_uid="console.logout")
def on_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if _console(request) and user is not None:
        audit.record("console.logout", actor=user, subject=user)


@receiver(user_login_failed, dispatch_uid="console.login_failed")
def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # The typed login is not recorded: it is often a password typed into the wrong field.
    if _console(request):
        audit.record("console.login_failed")
