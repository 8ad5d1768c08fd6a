"""User search finds what a person types: short names, names in either order, e-mail fragments; and the list
says how many users it holds."""

from __future__ import annotations

import html
import re

import pytest
from django.db import connection

from accounts import search
from accounts.models import User
from console import selectors
from tests.console.conftest import htmx


def emails(response) -> list[str]:
    found = re.findall(r'<a href="/console/users/[0-9a-f-]+/">([^<]+)</a>', response.content.decode())
    return sorted(html.unescape(e) for e in found)


def total(response) -> str:
    found = re.search(r'<p class="total" id="total">([^<]*)</p>', response.content.decode())
    assert found, response.content
    return found.group(1)


@pytest.fixture
def people(make_user):
    return {
        "ed": make_user(email="ed.smith@example.com", username="esmith", first_name="Ed", last_name="Smith"),
        "edsger": make_user(email="ewd@tue.example", first_name="Edsger", last_name="Dijkstra"),
        "ted": make_user(email="ted@example.com", first_name="Ted", last_name="Nelson"),
        "grace": make_user(
            email="grace@navy.example", username="ghopper", first_name="Grace", last_name="Hopper"
        ),
        "hopper": make_user(email="dennis@example.com", first_name="Dennis", last_name="Hopper"),
        "ada": make_user(
            email="ada@analytical.example", username="ada", first_name="Ada", last_name="Lovelace"
        ),
        "li": make_user(email="x9@example.com", first_name="Li", last_name="Wei"),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # One or two letters: the start of a first or last name, a username or the e-mail.
        ("Ed", ["ed.smith@example.com", "ewd@tue.example"]),
        ("ed", ["ed.smith@example.com", "ewd@tue.example"]),
        ("Li", ["x9@example.com"]),
        ("WEI", ["x9@example.com"]),
        ("d", ["dennis@example.com", "ewd@tue.example"]),
        ("gh", ["grace@navy.example"]),
        # Names in either order, any letter case, extra spaces.
        ("grace hopper", ["grace@navy.example"]),
        ("hopper grace", ["grace@navy.example"]),
        ("  Hopper   GRACE ", ["grace@navy.example"]),
        ("hopper", ["dennis@example.com", "grace@navy.example"]),
        ("hopper d", ["dennis@example.com"]),
        ("ed smith", ["ed.smith@example.com"]),
        ("smith ed", ["ed.smith@example.com"]),
        ("lovelace ada", ["ada@analytical.example"]),
        ("ada lovelace nobody", []),
        # E-mail fragments.
        ("ed.smith@", ["ed.smith@example.com"]),
        ("@navy", ["grace@navy.example"]),
        ("navy.example", ["grace@navy.example"]),
        ("tue.example", ["ewd@tue.example"]),
        ("analytical", ["ada@analytical.example"]),
        ("x9@", ["x9@example.com"]),
        ("ace@nav", ["grace@navy.example"]),
        # Substrings of three or more keep matching inside words; shorter ones only at a start.
        ("nelso", ["ted@example.com"]),
        ("ted", ["ted@example.com"]),
        ("mi", []),
    ],
)
def test_finds_what_a_person_types(staff_client, people, query, expected):
    response = staff_client.get("/console/users/", {"q": query}, headers=htmx("results"))
    assert response.status_code == 200
    assert emails(response) == expected


def test_at_most_five_words_count(staff_client, people):
    terms = search.search_terms("grace hopper grace a b c d e f")
    assert terms == ["grace", "hopper", "a", "b", "c"]
    response = staff_client.get(
        "/console/users/", {"q": "hopper grace g h gr x y z"}, headers=htmx("results")
    )
    assert emails(response) == ["grace@navy.example"]


def test_totals(staff_client, people, settings):
    response = staff_client.get("/console/users/", {"q": "hopper"}, headers=htmx("results"))
    assert total(response) == "2 users"
    response = staff_client.get("/console/users/", {"q": "lovelace"}, headers=htmx("results"))
    assert total(response) == "1 user"
    response = staff_client.get("/console/users/", {"q": "nobody"}, headers=htmx("results"))
    assert total(response) == "0 users"
    # Past the first page the total is counted, not taken from the page.
    settings.CONSOLE_PAGE_SIZE = 2
    everyone = User.objects.count()
    for number in (1, 2):
        response = staff_client.get("/console/users/", {"page": number}, headers=htmx("results"))
        assert len(emails(response)) == 2
        assert total(response) == f"{everyone} users"
    full = staff_client.get("/console/users/")
    assert total(full) == f"{everyone} users"


def test_totals_are_bounded(staff_client, people, settings, monkeypatch):
    # Counting stops past EXACT_TOTAL_UP_TO rows (PostgreSQL shows its estimate instead: see below).
    monkeypatch.setattr(search, "EXACT_TOTAL_UP_TO", 3)
    settings.CONSOLE_PAGE_SIZE = 2
    response = staff_client.get("/console/users/", headers=htmx("results"))
    if connection.vendor == "postgresql":
        assert total(response).startswith("about ")
    else:
        assert total(response) == "more than 3 users"


def test_thousands_are_grouped():
    page = selectors.Page(items=[], number=2, has_next=False, size=25)
    page.total = search.Total(1234)  # type: ignore[misc]
    from django.template.loader import render_to_string

    text = render_to_string(
        "console/_total.html", {"page": page, "singular": "user", "plural": "users", "id": "t"}
    )
    assert ">1,234 users<" in text
    page.total = search.Total(34000, exact=False)  # type: ignore[misc]
    text = render_to_string(
        "console/_total.html", {"page": page, "singular": "user", "plural": "users", "id": "t"}
    )
    assert ">about 34,000 users<" in text


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the planner's estimate exists on PostgreSQL only"
)
def test_large_totals_are_postgresql_estimates(make_user, monkeypatch):
    monkeypatch.setattr(search, "EXACT_TOTAL_UP_TO", 5)
    for n in range(40):
        make_user(email=f"many{n}@example.com", first_name="Many")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_user")
    found = search.total_of(User.objects.filter(first_name="Many"))
    assert not found.exact and 10 <= found.count <= 200
    # A search that read its matches through the indexes knows their number exactly.
    assert search.total_of(search.user_search(query="many")) == search.Total(40)


@pytest.mark.parametrize(
    ("estimate", "shown"), [(7, 7), (99, 99), (1234, 1200), (33_456, 33_000), (987_654, 990_000)]
)
def test_estimates_are_rounded(estimate, shown):
    assert search._rounded(estimate) == shown


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the index probe and plan settings exist on PostgreSQL only"
)


def _setting(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return str(cursor.fetchone()[0])


@postgresql_only
@pytest.mark.parametrize("probe_rows", [1000, 2])
def test_probed_and_walked_searches_give_the_same_pages(
    staff_client, make_user, monkeypatch, settings, probe_rows
):
    # Few matches: read through the indexes, then only those rows. Many (more than PROBE_ROWS): a walk
    # newest first with bitmap scans off. Either way the same users, in the same order, page by page.
    monkeypatch.setattr(search, "PROBE_ROWS", probe_rows)
    for n in range(7):
        make_user(email=f"walker{n}@example.com", first_name="Wal", last_name=f"Ker{n}")
    make_user(email="other@example.com", first_name="Oth", last_name="Er")
    settings.CONSOLE_PAGE_SIZE = 3
    for query in ("walker", "ker wal", "wal"):
        found = search.user_search(query=query)
        assert isinstance(found, search.CommonMatch) is (probe_rows == 2), query
        seen: list[str] = []
        for number in (1, 2, 3):
            seen += emails(
                staff_client.get("/console/users/", {"q": query, "page": number}, headers=htmx("results"))
            )
        expected = User.objects.filter(email__startswith="walker").order_by("-date_joined", "id")
        assert sorted(seen) == sorted(u.email for u in expected)
        page = selectors.page_of(found, number=1, size=3)
        assert [u.email for u in page.items] == [u.email for u in expected[:3]]
        assert page.total == (search.Total(2, at_least=True) if probe_rows == 2 else search.Total(7))
    # The plan settings stayed inside their rolled-back transactions.
    assert _setting("enable_seqscan") == "on" and _setting("enable_bitmapscan") == "on"
    assert _setting("enable_indexscan") == "on"
