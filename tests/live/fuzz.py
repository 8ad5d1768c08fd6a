"""bin/fuzz: schemathesis against a real server process, in four passes.

1. anonymous: every operation (except those calling outside providers);
2. a logged-in user: every operation of the users' bearer scheme, with that user's access token;
3. a staff user: the same with a staff member's token;
4. admin: every admin API operation, with a key holding every scope (its owner a superuser).

Every check runs (`--checks all`); each pass is bounded by `--max-time`. Operations that would end the
fuzzer's own session (or delete its user) are left out of the logged-in passes, and operations that call
outside providers are left out of every pass; the lists are printed and kept in docs/api.md. The users are
created with `manage.py shell` and the key with `manage.py apikeys create` against the server's database
(never through an endpoint of their own). The admin pass runs last: its force logouts and deactivations may
hit the other passes' users.

Exit status 1 on any finding of any pass, on any 5xx/traceback in the server log, or when a logged-in
pass lost its session (the admin pass: its key). Operations are read from the live schema, so routers merged later are fuzzed too.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.live.server import ROOT, LiveServer

CONFIG = Path(__file__).with_name("schemathesis.toml")
ST = str(Path(sys.executable).with_name("st"))

# Operations that end the session the fuzzer authenticates with, or delete its user: left out of the
# logged-in passes (anonymously they are only 401s, so the anonymous pass keeps them).
SESSION_ENDING = {
    "auth_logout": "ends the current session",
    "auth_logout_all": "ends every session of the user",
    "me_delete": "soft-deletes the user, ending its sessions",
    "me_sessions_revoke": "can revoke the fuzzer's own session (its id is listed by me_sessions_list)",
}
# (method or "*", path regex): operations that call outside providers (Google, GitHub, Facebook).
OUTSIDE_PROVIDERS = [
    ("*", re.compile(r"^/api/v1/auth/social/")),
    ("post", re.compile(r"^/api/v1/me/social-accounts/\{[^}]+\}/link$")),
]
# Share of the budget per pass.
SHARES = {"anonymous": 0.40, "user": 0.30, "staff": 0.15, "admin": 0.15}
USER_SCHEME = "SessionBearer"
ADMIN_SCHEME = "ApiKeyBearer"


@dataclass
class PassResult:
    name: str
    operations: int = 0
    cases: int = 0
    returncode: int = 0
    problems: list[str] = field(default_factory=list)


def _request(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


CREATE_USERS = """
import json, os
from django.utils import timezone
from accounts.models import User
for spec in json.loads(os.environ["FUZZ_USERS"]):
    User.objects.create_user(
        email=spec["email"], password=spec["password"], email_verified_at=timezone.now(),
        is_staff=spec["staff"], is_superuser=spec.get("superuser", False), first_name="Fuzz",
    )
"""


def create_users(server: LiveServer) -> dict[str, dict[str, Any]]:
    users = {
        "user": {"email": "fuzz-user@example.test", "password": secrets.token_urlsafe(16), "staff": False},
        "staff": {"email": "fuzz-staff@example.test", "password": secrets.token_urlsafe(16), "staff": True},
        "admin": {
            "email": "fuzz-admin@example.test",
            "password": secrets.token_urlsafe(16),
            "staff": True,
            "superuser": True,
        },
    }
    env_before = dict(server.env)
    server.env["FUZZ_USERS"] = json.dumps(list(users.values()))
    try:
        server.manage("shell", "-c", CREATE_USERS)
    finally:
        server.env.clear()
        server.env.update(env_before)
    return users


def login(server: LiveServer, email: str, password: str) -> str:
    status, body = _request("POST", f"{server.url}/api/v1/auth/token", {"login": email, "password": password})
    if status != 200:
        raise RuntimeError(f"fuzz user could not log in: {status} {body}")
    return str(body["access"])


def create_key(server: LiveServer, owner_email: str) -> str:
    """An admin API key with every scope, made the way an operator makes one (printed once on stdout)."""
    from adminapi import scopes

    arguments = ["apikeys", "create", "--owner", owner_email, "--name", "fuzz", "--expires-days", "1"]
    for scope in scopes.SCOPES:
        arguments += ["--scope", scope]
    return server.manage(*arguments).strip()


@dataclass
class Selection:
    everything: list[str] = field(default_factory=list)  # the anonymous pass
    bearer: list[str] = field(default_factory=list)  # the logged-in passes (the users' scheme)
    admin: list[str] = field(default_factory=list)  # the admin pass (the admin API's key scheme)
    excluded: dict[str, str] = field(default_factory=dict)  # operation id → why


def select_operations(schema: dict[str, Any]) -> Selection:
    """Which operations each pass fuzzes, by the security scheme each operation names."""
    from config.openapi import operations

    selection = Selection()
    for method, path, op in operations(schema):
        op_id = op["operationId"]
        if any(m in ("*", method) and rx.search(path) for m, rx in OUTSIDE_PROVIDERS):
            selection.excluded[op_id] = "calls outside providers (every pass)"
            continue
        selection.everything.append(op_id)
        schemes = {
            name for requirement in op.get("security", schema.get("security", [])) for name in requirement
        }
        if ADMIN_SCHEME in schemes:
            selection.admin.append(op_id)
        elif schemes:
            if op_id in SESSION_ENDING:
                selection.excluded[op_id] = f"{SESSION_ENDING[op_id]} (logged-in passes)"
            else:
                selection.bearer.append(op_id)
    return selection


def run_pass(
    server: LiveServer,
    name: str,
    seconds: int,
    workdir: Path,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    token: str | None = None,
    scheme: str = USER_SCHEME,
) -> PassResult:
    result = PassResult(name=name)
    config = workdir / f"schemathesis-{name}.toml"
    text = CONFIG.read_text()
    env = {**os.environ, "NO_COLOR": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    if token:
        # The token goes through the environment, not the command line.
        text += f'\n[auth.openapi.{scheme}]\nbearer = "${{CUSTODIAN_FUZZ_TOKEN}}"\n'
        env["CUSTODIAN_FUZZ_TOKEN"] = token
    config.write_text(text)
    command = [
        ST,
        "--config-file",
        str(config),
        "run",
        f"{server.url}/api/v1/openapi.json",
        "--checks",
        "all",
        "--max-time",
        str(seconds),
        # One worker: hypothesis parses lambda sources with `ast`, which is not thread-safe on CPython 3.11
        # ("AST constructor recursion depth mismatch" with several workers).
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-junit-path",
        str(workdir / f"junit-{name}.xml"),
    ]
    for op_id in include or []:
        command += ["--include-operation-id", op_id]
    for op_id in exclude or []:
        command += ["--exclude-operation-id", op_id]
    print(f"\n--- pass {name}: {len(include) if include else 'all'} operations, {seconds}s", flush=True)
    started = time.monotonic()
    completed = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    output = completed.stdout + completed.stderr
    (workdir / f"schemathesis-{name}.log").write_text(output)
    result.returncode = completed.returncode
    generated = re.search(r"(\d+) generated", output)
    tested = re.search(r"Tested:\s+(\d+)", output)
    result.cases = int(generated.group(1)) if generated else 0
    result.operations = int(tested.group(1)) if tested else 0
    if completed.returncode != 0:
        print(_shorten(output), flush=True)
        result.problems.append(f"schemathesis exited {completed.returncode}")
    else:
        summary = output[output.find("SUMMARY") :] if "SUMMARY" in output else output[-2000:]
        print(summary.strip(), flush=True)
    if result.cases == 0:
        result.problems.append("no test case ran")
    if token:
        check = "/api/v1/admin/users" if scheme == ADMIN_SCHEME else "/api/v1/me"
        status, _ = _request("GET", f"{server.url}{check}", token=token)
        if status != 200:
            lost = "key" if scheme == ADMIN_SCHEME else "session"
            result.problems.append(
                f"the pass lost its {lost} (GET {check} → {status}): exclude what ended it"
            )
    print(f"--- pass {name}: {result.cases} cases in {time.monotonic() - started:.0f}s", flush=True)
    return result


def _shorten(output: str, width: int = 300, limit: int = 20_000) -> str:
    lines = [line if len(line) <= width else line[:width] + " …" for line in output.splitlines()]
    text = "\n".join(lines)
    return text if len(text) <= limit else text[:limit] + "\n… (cut; the whole log is in var/fuzz/)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=int(os.environ.get("FUZZ_BUDGET", "240")))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.live.settings")
    import django

    django.setup()

    from config.openapi import operations

    # Access tokens outlive the passes (15 min, the longest the docs advise). The anonymous per-IP ceiling would turn
    # most of each minute of the anonymous pass into 429s (one client, hundreds of requests a minute): it is
    # raised here so that the operations themselves are fuzzed; its own tests are in tests/config.
    server_env = {"ACCESS_TOKEN_MINUTES": "15", "RATE_LIMIT_ANON_IP": "1000000/min"}
    workdir = ROOT / "var" / "fuzz"
    workdir.mkdir(parents=True, exist_ok=True)
    with LiveServer(log_name="fuzz-server", extra_env=server_env) as server:
        _, schema = _request("GET", f"{server.url}/api/v1/openapi.json")
        selection = select_operations(schema)
        print(f"operations in the schema: {len(operations(schema))}")
        print("excluded:")
        for op_id, reason in sorted(selection.excluded.items()):
            print(f"  {op_id}: {reason}")
        users = create_users(server)
        tokens = {
            name: login(server, u["email"], u["password"]) for name, u in users.items() if name != "admin"
        }
        key = create_key(server, users["admin"]["email"])
        outside = [op for op, reason in selection.excluded.items() if "every pass" in reason]
        results = [
            run_pass(
                server,
                "anonymous",
                max(10, int(args.budget * SHARES["anonymous"])),
                workdir,
                exclude=outside,
            ),
            run_pass(
                server,
                "user",
                max(10, int(args.budget * SHARES["user"])),
                workdir,
                include=selection.bearer,
                token=tokens["user"],
            ),
            run_pass(
                server,
                "staff",
                max(10, int(args.budget * SHARES["staff"])),
                workdir,
                include=selection.bearer,
                token=tokens["staff"],
            ),
            run_pass(
                server,
                "admin",
                max(10, int(args.budget * SHARES["admin"])),
                workdir,
                include=selection.admin,
                token=key,
                scheme=ADMIN_SCHEME,
            ),
        ]
        log_errors = server.server_errors()
        (workdir / "server.log").write_text(server.log())

    print("\n=== fuzz summary")
    print(f"{'pass':<10} {'operations':>10} {'cases':>8}  result")
    failed = False
    for result in results:
        ok = not result.problems
        failed |= not ok
        print(
            f"{result.name:<10} {result.operations:>10} {result.cases:>8}  "
            f"{'ok' if ok else '; '.join(result.problems)}"
        )
    print(f"{'total':<10} {len(selection.everything):>10} {sum(r.cases for r in results):>8}")
    if log_errors:
        failed = True
        print(f"\nserver log has {len(log_errors)} error lines (5xx or tracebacks), first ones:")
        print("\n".join(log_errors[:20]))
    print("fuzz: FAILED" if failed else "fuzz: no findings")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
