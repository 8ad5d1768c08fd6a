"""Templated e-mail, sent through the outbox.

Every mail has a subject, a plain-text part and an HTML part, overridable by the host project
(`<app>/email/<name>_subject.txt`, `<name>.txt`, `<name>.html`; a bare name means `accounts/email/<name>`).
`enqueue` owes a mail in the caller's transaction; the outbox relay renders and sends it. Its Message-ID
is derived from the outbox row, so a repeat after a relay crash is the same message (the file backend of
the embedded default keeps one file per Message-ID; SMTP receivers deduplicate on it).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from core import outbox
from core.models import OutboxMessage

SEND_TOPIC = "mail.send"


def link(path: str, **query: str) -> str:
    """Links in mails are built from FRONTEND_URL, never from the request's Host."""
    suffix = f"?{urlencode(query)}" if query else ""
    return f"{settings.FRONTEND_URL}{path}{suffix}"


def render(*, template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    ctx = {"frontend_url": settings.FRONTEND_URL, **context}
    base = template if "/" in template else f"accounts/email/{template}"
    subject = " ".join(render_to_string(f"{base}_subject.txt", ctx).split())
    return subject, render_to_string(f"{base}.txt", ctx), render_to_string(f"{base}.html", ctx)


def enqueue(*, template: str, to: str, context: dict[str, Any], subject_id: Any = None) -> None:
    """Owe one mail, in the caller's transaction. `context` must be JSON (strings, numbers, lists, dicts);
    `subject_id` names the user it is about, so an erasure can drop it if it was never delivered."""
    outbox.publish(SEND_TOPIC, {"template": template, "to": to, "context": context}, subject_id=subject_id)


def message_id(outbox_id: int) -> str:
    """A Message-ID that is the same for every delivery attempt of one outbox row, and unguessable."""
    tag = hmac.new(settings.SECRET_KEY.encode(), f"mail|{outbox_id}".encode(), hashlib.sha256).hexdigest()
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >") or "custodian.local"
    return f"<{outbox_id}.{tag[:20]}@{domain}>"


def send(*, template: str, to: str, context: dict[str, Any], msg_id: str | None = None) -> None:
    subject, text, html = render(template=template, context=context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        to=[to],
        from_email=settings.DEFAULT_FROM_EMAIL,
        headers={"Message-ID": msg_id} if msg_id else None,
    )
    message.attach_alternative(html, "text/html")
    message.send()


@outbox.handler(SEND_TOPIC, transactional=False, key="core.mail.send")
def _deliver(message: OutboxMessage) -> None:
    payload = message.payload
    send(
        template=str(payload["template"]),
        to=str(payload["to"]),
        context=dict(payload.get("context") or {}),
        msg_id=message_id(message.pk),
    )
