"""User search, for the staff console and the admin API: built to stay fast on PostgreSQL with 10^6 users.
The indexes it relies on are in console/migrations and explained in docs/console.md."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connections, transaction
from django.db.models import CharField, Func, Q, QuerySet
from django.db.models.functions import Lower

from accounts.models import User

# pg_trgm indexes words (runs of letters and digits): a term without a word of 3+ characters ("ed", "a%b",
# "x_y") has no selective trigram, so it is matched as the start of the e-mail, username, first or last name
# (B-tree text_pattern_ops indexes); any other term as a substring anywhere (trigram GIN index).
_WORD = re.compile(r"[^\W_]{3}")
# A query's words all have to match; more than this many would only make the query slower, not better.
MAX_TERMS = 5
# A text search may first read up to this many matching ids through the indexes (see user_search)...
PROBE_ROWS = 1000
# ... when its rarest word is estimated at no more matches than this.
PROBE_INDEX_ROWS = 200_000
# Totals: counted exactly up to this many rows; past it, PostgreSQL's estimate is shown ("about 33,000").
EXACT_TOTAL_UP_TO = 1000


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


@dataclass(frozen=True)
class Total:
    """How many rows a list has: `count` exactly, or (`exact` False) PostgreSQL's estimate, or (`at_least`)
    more than `count`."""

    count: int
    exact: bool = True
    at_least: bool = False


def total_of(queryset: QuerySet[Any]) -> Total:
    """The number of rows of `queryset`, cheaply at any size. On PostgreSQL the planner's estimate comes
    first (EXPLAIN, no rows read): a large one is shown as an estimate, rounded; otherwise the rows are
    counted, but never more than EXACT_TOTAL_UP_TO + 1 of them. A user search may know its total already, or
    that it is more than PROBE_ROWS (CommonMatch)."""
    known: Total | None = getattr(queryset, "known_total", None)
    if known is not None:
        return known
    at_least = PROBE_ROWS if isinstance(queryset, CommonMatch) else 0
    unordered = queryset.order_by()
    if connections[queryset.db].vendor == "postgresql":
        planned = estimate(unordered)
        if planned > max(EXACT_TOTAL_UP_TO, at_least):
            return Total(_rounded(planned), exact=False)
        if at_least:
            return Total(at_least, at_least=True)
    counted = unordered[: EXACT_TOTAL_UP_TO + 1].count()
    if counted > EXACT_TOTAL_UP_TO:
        return Total(EXACT_TOTAL_UP_TO, at_least=True)
    return Total(counted)


def _rounded(estimate: int) -> int:
    """Two significant digits: an estimate should not look exact."""
    digits = len(str(estimate)) - 2
    return round(estimate, -digits) if digits > 0 else estimate


def search_terms(query: str) -> list[str]:
    """The distinct lower-case words of a query, in order, at most MAX_TERMS of them."""
    terms: list[str] = []
    for word in query.lower().split():
        if word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


def _term_match(term: str) -> Q:
    if _WORD.search(term):
        return Q(search__contains=term)
    return (
        Q(email_lower__startswith=term)
        | Q(username_lower__startswith=term)
        | Q(first_name_lower__startswith=term)
        | Q(last_name_lower__startswith=term)
    )


def _matching(queryset: QuerySet[User], terms: list[str]) -> QuerySet[User]:
    queryset = queryset.alias(
        search=SearchText(),
        email_lower=Lower("email"),
        username_lower=Lower("username"),
        first_name_lower=Lower("first_name"),
        last_name_lower=Lower("last_name"),
    )
    for term in terms:
        queryset = queryset.filter(_term_match(term))
    return queryset


@contextmanager
def _planner(alias: str, *settings_off: str, serial: bool = False) -> Iterator[None]:
    """Run the block's queries with some PostgreSQL plan types off (and, `serial`, without parallel workers).
    SET LOCAL ends with the transaction (or savepoint) opened here, which is rolled back (the block only
    reads): no other query sees the settings."""
    with transaction.atomic(using=alias):
        with connections[alias].cursor() as cursor:
            for name in settings_off:
                cursor.execute(f"SET LOCAL {name} = off")
            if serial:
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        yield
        transaction.set_rollback(True, using=alias)


def estimate(queryset: QuerySet[Any]) -> int:
    """PostgreSQL's estimate of the number of rows (EXPLAIN: planned, not run)."""
    return int(json.loads(queryset.order_by().explain(format="json"))[0]["Plan"]["Plan Rows"])


def _worth_probing(queryset: QuerySet[User], terms: list[str], matching: QuerySet[User]) -> bool:
    """Whether reading the matches through the indexes (`_all_ids_if_few`) is cheap and may avoid a bad plan.
    Its cost follows the index entries of the rarest word (a bitmap is built whole before any row is read).

    One word: its statistics are good, except that a fragment they cannot see is estimated at 100 rows; at
    or under PROBE_ROWS it is read (if it is in fact common, the result walks). Several words: PostgreSQL
    multiplies their estimates, which goes wrong both ways; they are read unless even the rarest word is
    common (PROBE_INDEX_ROWS), and then so is, most likely, the conjunction."""
    if len(terms) == 1:
        return estimate(matching) <= PROBE_ROWS
    return min(estimate(_matching(queryset, [term])) for term in terms) <= PROBE_INDEX_ROWS


def _all_ids_if_few(queryset: QuerySet[User]) -> list[uuid.UUID] | None:
    """The ids of every row of `queryset` if there are at most PROBE_ROWS, else None; read through the
    search indexes alone (bitmap scans), so the cost follows the number of matches, never the table's size.

    The planner cannot be trusted with the choice between reading every match and walking all users newest
    first: it estimates several words as independent ("ritchie edsger": 0.17 % of users expected, none
    there, so it walks all 10^6 users) and a fragment its statistics cannot see as 100 rows ("hopper@corp":
    9,500 there, all read and sorted)."""
    with _planner(queryset.db, "enable_seqscan", "enable_indexscan"):
        ids = list(queryset.order_by().values_list("pk", flat=True)[: PROBE_ROWS + 1])
    return ids if len(ids) <= PROBE_ROWS else None


class CommonMatch(QuerySet[User]):
    """A search known to match more than PROBE_ROWS users: common enough that walking the users newest first
    (the result order's index) fills a page after a few rows per match. Its rows are read with bitmap and
    sequential scans off, so PostgreSQL walks that index and stops after the page instead of reading and
    sorting every match; and in one process: for a walk that stops after a page, starting parallel workers and
    merging their streams cost more than they saved (two-word names at 10^6 users: p50 35 ms serial, 73 ms
    with two workers, docs/console.md)."""

    def _fetch_all(self) -> None:
        if self._result_cache is None:
            with _planner(self.db, "enable_bitmapscan", "enable_seqscan", serial=True):
                super()._fetch_all()


def user_search(*, query: str = "", status: str = "") -> QuerySet[User]:
    """Users matching `query`, newest first. A user id finds that user; otherwise every word of the query
    must match (in any order): a word with a run of 3+ letters or digits anywhere in the e-mail, username or
    name ("hopper", "ada@exa", "corp.example"), a shorter one at the start of the e-mail, username, first or
    last name ("Ed", "j.s").

    On PostgreSQL a text query first reads, through the indexes, up to PROBE_ROWS matching ids (one query):
    if that is all of them, the result is those users (and their number is known); if not, the result is a
    CommonMatch."""
    qs = User.objects.all()
    if status == "live":
        qs = qs.filter(deleted_at__isnull=True)
    elif status == "deleted":
        qs = qs.filter(deleted_at__isnull=False)
    elif status == "unverified":
        qs = qs.filter(deleted_at__isnull=True, email_verified_at__isnull=True)
    elif status == "staff":
        qs = qs.filter(is_staff=True)
    text = query.strip()
    if not text:
        return qs.order_by("-date_joined", "id")
    try:
        return qs.filter(pk=uuid.UUID(text)).order_by("-date_joined", "id")
    except ValueError:
        pass
    terms = search_terms(text)
    matching = _matching(qs, terms).order_by("-date_joined", "id")
    if connections[qs.db].vendor != "postgresql" or not _worth_probing(qs, terms, matching):
        return matching
    ids = _all_ids_if_few(matching)
    if ids is None:
        return CommonMatch(model=User, query=matching.query, using=matching.db)
    found = User.objects.filter(pk__in=ids).order_by("-date_joined", "id")
    found.known_total = Total(len(ids))  # type: ignore[attr-defined]
    return found
