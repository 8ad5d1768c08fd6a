"""Reads of the console. User search is built to stay fast on PostgreSQL with 10^6 users; the indexes it
relies on are in console/migrations and explained in docs/console.md."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from allauth.socialaccount.models import SocialAccount
from django.db.models import CharField, Func, Q, QuerySet
from django.db.models.functions import Lower

from accounts.models import User
from gdpr import selectors as gdpr_selectors

# pg_trgm indexes words (runs of letters and digits): a query without a word of 3+ characters ("ab",
# "a%b", "x_y") has no selective trigram, so it is matched as a prefix of the e-mail or username (B-tree
# text_pattern_ops indexes); any other query as a substring anywhere (trigram GIN index).
_WORD = re.compile(r"[^\W_]{3}")


class SearchText(Func):
    """lower(email || ' ' || coalesce(username, '') || ' ' || first_name || ' ' || last_name): the exact
    expression of the trigram index, so PostgreSQL can use it. `||` (not CONCAT(), which is not immutable)
    also works on SQLite."""

    template = "LOWER(%(email)s || ' ' || COALESCE(%(username)s, '') || ' ' || %(first_name)s || ' ' || %(last_name)s)"
    output_field = CharField()

    def __init__(self) -> None:
        super().__init__("email", "username", "first_name", "last_name")

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # type: ignore[override]
        parts = [compiler.compile(expr)[0] for expr in self.get_source_expressions()]
        sql = self.template % dict(zip(("email", "username", "first_name", "last_name"), parts, strict=True))
        return sql, []


@dataclass
class Page:
    items: list[Any]
    number: int
    has_next: bool
    size: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def page_of(queryset: QuerySet[Any], *, number: int, size: int) -> Page:
    """One page without COUNT(*): one row more than the page tells whether a next page exists (a count
    of a broad match over 10^6 rows would cost more than the page itself)."""
    offset = (number - 1) * size
    rows = list(queryset[offset : offset + size + 1])
    return Page(items=rows[:size], number=number, has_next=len(rows) > size, size=size)


def user_search(*, query: str = "", status: str = "") -> QuerySet[User]:
    """Users matching `query` (a user id; an e-mail, username or name fragment), newest first."""
    qs = User.objects.all()
    if status == "live":
        qs = qs.filter(deleted_at__isnull=True)
    elif status == "deleted":
        qs = qs.filter(deleted_at__isnull=False)
    elif status == "unverified":
        qs = qs.filter(deleted_at__isnull=True, email_verified_at__isnull=True)
    elif status == "staff":
        qs = qs.filter(is_staff=True)
    text = query.strip().lower()
    if text:
        try:
            return qs.filter(pk=uuid.UUID(text)).order_by("-date_joined", "id")
        except ValueError:
            pass
        if not _WORD.search(text):
            qs = qs.alias(email_lower=Lower("email"), username_lower=Lower("username")).filter(
                Q(email_lower__startswith=text) | Q(username_lower__startswith=text)
            )
        else:
            qs = qs.alias(search=SearchText()).filter(search__contains=text)
    return qs.order_by("-date_joined", "id")


def social_accounts(*, user: User) -> QuerySet[SocialAccount]:
    return SocialAccount.objects.filter(user=user).order_by("provider", "id")


def data_requests(*, user: User, limit: int = 20) -> list[Any]:
    """The user's newest GDPR requests, through gdpr's own selector."""
    return list(gdpr_selectors.data_requests_for_user(user=user).select_related("decided_by")[:limit])
