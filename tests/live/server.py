"""A real Custodian server process (gunicorn) on a free 127.0.0.1 port, with its own SQLite database, mail
directory and media under a temporary directory. Used by the SDK test and by bin/fuzz."""

from __future__ import annotations

import email
import email.policy
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """`with LiveServer() as server:` migrates a fresh database and serves it; `server.url` is the base URL
    (no trailing slash), `server.mails()` the mails sent so far, `server.manage(...)` runs a management
    command against the same database.

    `immediate=False` leaves tasks to a separate consumer (the server only queues them); `extra_env` may set
    DATABASE_URL and REDIS_URL (otherwise a fresh SQLite database and no Redis)."""

    def __init__(
        self,
        *,
        workers: int = 2,
        log_name: str = "server",
        immediate: bool = True,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="custodian-live-")
        self.dir = Path(self._tmp.name)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log_path = self.dir / f"{log_name}.log"
        self._process: subprocess.Popen[bytes] | None = None
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "EMAIL_URL"}}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "tests.live.settings",
                "PYTHONPATH": str(ROOT),
                "VAR_DIR": str(self.dir / "var"),
                "SECRET_KEY": secrets.token_urlsafe(50),
                "DEBUG": "false",
                "HUEY_IMMEDIATE": "true" if immediate else "false",
                "SECURE_SSL_REDIRECT": "false",
                "SECURE_COOKIES": "false",
                "FRONTEND_URL": "https://app.example.test",
                "LOG_LEVEL": "WARNING",
                **(extra_env or {}),
            }
        )
        self.env = env

    @property
    def mail_dir(self) -> Path:
        return self.dir / "var" / "mail"

    def manage(self, *args: str, input: str | None = None) -> str:
        result = subprocess.run(
            [PYTHON, str(ROOT / "manage.py"), *args],
            env=self.env,
            cwd=ROOT,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self) -> LiveServer:
        self.manage("migrate", "--noinput", "-v", "0")
        log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--timeout",
                "60",
                # The request-line limit (414 in HTML, before Django) belongs to the front server's
                # configuration, outside the API's contract; the fuzzer tests the application.
                "--limit-request-line",
                "0",
                # No gunicorn access log: the application logs every answer once (custodian.access).
                # Download tokens redacted from gunicorn's own error log (docs/deployment.md).
                "--logger-class",
                "config.logredact.GunicornLogger",
            ],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not answer within 60 s:\n{self.log()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def server_errors(self) -> list[str]:
        """5xx answers (access records, or a gunicorn-style access log) and ERROR/CRITICAL records (Django's,
        ours, gunicorn's) in the server log.
        A traceback logged with a WARNING (Django's 400 for a malformed multipart body) is not one."""
        return [
            line
            for line in self.log().splitlines()
            if re.search(r'" 5\d\d ', line) or re.search(r" ERROR | CRITICAL |\[ERROR\]|\[CRITICAL\]", line)
        ]

    def mails(self, to: str | None = None) -> list[email.message.EmailMessage]:
        """Mails written by the file backend, oldest first (several may share a file)."""
        found: list[email.message.EmailMessage] = []
        if not self.mail_dir.exists():
            return found
        # A message being written is a ".partial" file until it is renamed whole.
        written = [p for p in self.mail_dir.iterdir() if p.suffix != ".partial"]
        for path in sorted(written, key=lambda p: (p.stat().st_mtime_ns, p.name)):
            for chunk in re.split(rb"\n-{79}\n", path.read_bytes()):
                if not chunk.strip():
                    continue
                message = email.message_from_bytes(chunk.lstrip(b"\n"), policy=email.policy.default)
                if to is None or to in str(message.get("To", "")):
                    found.append(message)  # type: ignore[arg-type]
        return found

    def mail_text(self, to: str, subject_contains: str = "") -> str:
        """Plain-text body of the newest mail to `to` (whose subject contains the given words)."""
        for message in reversed(self.mails(to)):
            if subject_contains.lower() in str(message["Subject"]).lower():
                part: Any = message.get_body(preferencelist=("plain",))
                return str(part.get_content())
        raise LookupError(f"no mail to {to} with {subject_contains!r} in the subject")

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self._tmp.cleanup()
