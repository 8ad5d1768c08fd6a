"""Templated e-mail: every mail has a subject, a plain-text part and an HTML part, overridable by the host
project (templates/accounts/email/<name>_subject.txt, <name>.txt, <name>.html)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def mail_render(*, template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    ctx = {"frontend_url": settings.FRONTEND_URL, **context}
    # "verify" means accounts/email/verify; other apps name their own folder ("gdpr/email/export_ready").
    base = template if "/" in template else f"accounts/email/{template}"
    subject = " ".join(render_to_string(f"{base}_subject.txt", ctx).split())
    return subject, render_to_string(f"{base}.txt", ctx), render_to_string(f"{base}.html", ctx)


def mail_send(*, template: str, to: str, context: dict[str, Any]) -> None:
    subject, text, html = mail_render(template=template, context=context)
    message = EmailMultiAlternatives(
        subject=subject, body=text, to=[to], from_email=settings.DEFAULT_FROM_EMAIL
    )
    message.attach_alternative(html, "text/html")
    message.send()


def link(path: str, **query: str) -> str:
    """Links in mails are built from FRONTEND_URL, never from the request's Host."""
    from urllib.parse import urlencode

    suffix = f"?{urlencode(query)}" if query else ""
    return f"{settings.FRONTEND_URL}{path}{suffix}"
