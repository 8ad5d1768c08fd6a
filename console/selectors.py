"""Reads of the console (the user search and list totals are accounts.search)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from allauth.socialaccount.models import SocialAccount
from django.db.models import QuerySet

from accounts import search
from accounts.models import User
from gdpr import selectors as gdpr_selectors


@dataclass
class Page:
    items: list[Any]
    number: int
    has_next: bool
    size: int
    queryset: QuerySet[Any] | None = field(default=None, repr=False)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @cached_property
    def total(self) -> search.Total:
        """Computed when a template shows it: free when the first page holds every row."""
        if self.queryset is None or (self.number == 1 and not self.has_next):
            return search.Total(len(self.items))
        return search.total_of(self.queryset)


def page_of(queryset: QuerySet[Any], *, number: int, size: int) -> Page:
    """One page without COUNT(*): one row more than the page tells whether a next page exists (a count
    of a broad match over 10^6 rows would cost more than the page itself). `page.total` counts on demand."""
    offset = (number - 1) * size
    rows = list(queryset[offset : offset + size + 1])
    return Page(items=rows[:size], number=number, has_next=len(rows) > size, size=size, queryset=queryset)


def social_accounts(*, user: User) -> QuerySet[SocialAccount]:
    return SocialAccount.objects.filter(user=user).order_by("provider", "id")


def data_requests(*, user: User, limit: int = 20) -> list[Any]:
    """The user's newest GDPR requests, through gdpr's own selector."""
    return list(gdpr_selectors.data_requests_for_user(user=user).select_related("decided_by")[:limit])
