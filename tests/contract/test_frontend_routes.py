"""docs/frontend.md lists every route under FRONTEND_URL that a mail links to, with the query parameters the
code puts on it, and nothing the code no longer uses; the API operations it tells each page to call exist.

The code's routes are read from its source: every call of a mail-link builder (a function named `link` or
`_link`) with a literal path, its keyword arguments being the query parameters. Templates build no links of
their own (they print `{{ link }}`), which is checked too.
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "frontend.md"
LINK_BUILDERS = {"link", "_link"}
# Where application code lives (tests and benchmarks build no mails).
SKIP = {"tests", "bench", "docs", ".venv", "var", "node_modules", ".git"}


def _source_files() -> Iterator[Path]:
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if not SKIP & set(parts) and "migrations" not in parts:
            yield path


def _route(node: ast.expr) -> str | None:
    """A literal path, with `{…}` for each interpolated part of an f-string; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{…}"
            for v in node.values
        )
    return None


def code_routes() -> dict[str, set[str]]:
    """route → query parameter names, over every mail-link call in the code."""
    routes: dict[str, set[str]] = defaultdict(set)
    unreadable = []
    for path in _source_files():
        tree = ast.parse(path.read_text())
        # A builder's own body may forward a path it was given; every other call must name its route.
        builders = {
            id(call)
            for fn in ast.walk(tree)
            if isinstance(fn, ast.FunctionDef) and fn.name in LINK_BUILDERS
            for call in ast.walk(fn)
        }
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call) or id(call) in builders:
                continue
            name = getattr(call.func, "attr", None) or getattr(call.func, "id", None)
            if name not in LINK_BUILDERS or not call.args:
                continue
            route = _route(call.args[0])
            if route is None:
                unreadable.append(f"{path.relative_to(ROOT)}:{call.lineno}")
                continue
            routes[route] |= {kw.arg for kw in call.keywords if kw.arg}
    assert unreadable == [], f"mail links whose route is not a literal: {unreadable}"
    return dict(routes)


def doc_routes() -> dict[str, tuple[set[str], str]]:
    """route → (query parameter names, the "page calls" cell), from the table of docs/frontend.md."""
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`/"):
            continue
        route = cells[0].strip("`")
        params = set(re.findall(r"`(\w+)`", cells[1]))
        rows[route] = (params, cells[3])
    return rows


def _matches(doc_route: str, code_route: str) -> bool:
    """`/items/{item_id}` (doc) matches `/items/{…}` (code)."""
    pattern = re.escape(code_route).replace(re.escape("{…}"), r"\{\w+\}")
    return re.fullmatch(pattern, doc_route) is not None


def test_the_code_links_to_the_routes_this_test_knows_of() -> None:
    routes = code_routes()
    # Sanity: the reader of the source sees the known links.
    assert routes["/verify-email"] == {"key"}
    assert routes["/reset-password"] == {"uid", "token"}
    # The export download is a link to the API itself (PUBLIC_API_URL), never one under FRONTEND_URL.
    assert not [route for route in routes if route.startswith("/api/")]


def test_every_route_a_mail_links_to_is_listed_with_its_parameters() -> None:
    documented = doc_routes()
    problems = []
    for route, params in sorted(code_routes().items()):
        rows = [doc for doc in documented if _matches(doc, route)]
        if not rows:
            problems.append(f"{route} (query: {sorted(params)}) is not in docs/frontend.md")
        elif documented[rows[0]][0] != params:
            problems.append(
                f"{route}: the code sends {sorted(params)}, the doc lists {sorted(documented[rows[0]][0])}"
            )
    assert problems == [], "\n".join(problems)


def test_every_listed_route_is_used() -> None:
    used = code_routes()
    stale = [doc for doc in doc_routes() if not any(_matches(doc, route) for route in used)]
    assert stale == [], f"docs/frontend.md lists routes no mail links to: {stale}"


def test_the_operations_pages_call_exist() -> None:
    schema = json.loads((ROOT / "docs" / "openapi.json").read_text())
    known = {(method.upper(), path) for path, item in schema["paths"].items() for method in item}
    missing = []
    for route, (_, calls) in doc_routes().items():
        for method, path in re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/api/v1/[^`\s]+)`", calls):
            if (method, path) not in known:
                missing.append(f"{route}: {method} {path}")
    assert missing == [], "\n".join(missing)


def test_mail_templates_print_links_and_build_none() -> None:
    """A route spelled in a template would escape the checks above."""
    built = [
        str(path.relative_to(ROOT))
        for path in sorted(ROOT.glob("*/templates/**/email/*"))
        if re.search(r"frontend_url\s*}}\s*/", path.read_text())
    ]
    assert built == []
