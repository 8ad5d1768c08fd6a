"""Templated e-mail, sent through the outbox.

Every mail has a subject, a plain-text part and an HTML part, overridable by the host project
(`<app>/email/<name>_subject.txt`, `<name>.txt`, `<name>.html`; a bare name means `accounts/email/<name>`).
`enqueue` owes a mail in the caller's transaction; the outbox relay renders and sends it. Its Message-ID
is derived from the outbox row, so a repeat after a relay crash is the same message (the file backend of
the embedded default keeps one file per Message-ID; SMTP receivers deduplicate on it).

Language: a mail is rendered, subject included, in its recipient's language, chosen when it is owed and
stored with the outbox row (`locale` in the payload): the relay renders it later, maybe after the profile has
changed or been erased (the erasure confirmation). `enqueue(locale=...)` names it; without one, the locale of
the user `subject_id` names, through the resolver accounts registers (`locale_resolver_set`); English
(`LANGUAGE_CODE`) when there is neither (docs/i18n.md).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from core import i18n, outbox
from core.models import OutboxMessage

SEND_TOPIC = "mail.send"

# subject_id → the stored locale tag of that user ("" when unknown). core knows no users: accounts sets it.
_locale_resolver: Callable[[Any], str] | None = None


def locale_resolver_set(resolver: Callable[[Any], str] | None) -> None:
    global _locale_resolver
    _locale_resolver = resolver


def locale_of(subject_id: Any) -> str:
    """The language a mail to the user `subject_id` is written in (a shipped language code)."""
    tag = _locale_resolver(subject_id) if _locale_resolver is not None and subject_id is not None else ""
    return i18n.language_for(tag)


def link(path: str, **query: str) -> str:
    """Links in mails are built from FRONTEND_URL, never from the request's Host."""
    suffix = f"?{urlencode(query)}" if query else ""
    return f"{settings.FRONTEND_URL}{path}{suffix}"


def render(*, template: str, context: dict[str, Any], locale: str | None = None) -> tuple[str, str, str]:
    """Subject, text and HTML of a mail, in `locale` (any tag; English when it is not shipped)."""
    language = i18n.language_for(locale)
    ctx = {"frontend_url": settings.FRONTEND_URL, "language": language, **context}
    base = template if "/" in template else f"accounts/email/{template}"
    with translation.override(language):
        subject = " ".join(render_to_string(f"{base}_subject.txt", ctx).split())
        return subject, render_to_string(f"{base}.txt", ctx), render_to_string(f"{base}.html", ctx)


def enqueue(
    *, template: str, to: str, context: dict[str, Any], subject_id: Any = None, locale: str | None = None
) -> None:
    """Owe one mail, in the caller's transaction. `context` must be JSON (strings, numbers, lists, dicts);
    `subject_id` names the user it is about, so an erasure can drop it if it was never delivered. `locale`
    is the recipient's language; by default that of the user `subject_id` names, read now."""
    language = i18n.language_for(locale) if locale else locale_of(subject_id)
    payload = {"template": template, "to": to, "context": context, "locale": language}
    outbox.publish(SEND_TOPIC, payload, subject_id=subject_id)


def message_id(outbox_id: int) -> str:
    """A Message-ID that is the same for every delivery attempt of one outbox row, and unguessable."""
    tag = hmac.new(settings.SECRET_KEY.encode(), f"mail|{outbox_id}".encode(), hashlib.sha256).hexdigest()
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >") or "custodian.local"
    return f"<{outbox_id}.{tag[:20]}@{domain}>"


def send(
    *,
    template: str,
    to: str,
    context: dict[str, Any],
    msg_id: str | None = None,
    locale: str | None = None,
) -> None:
    subject, text, html = render(template=template, context=context, locale=locale)
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
        # Rows owed before mails carried a language are sent in the default one.
        locale=str(payload.get("locale") or ""),
    )
