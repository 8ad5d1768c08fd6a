"""The README's "Try it with curl" block, run verbatim with `sh` against a server started by bin/serve's own
commands: migrate, the demo staff account, a real huey consumer (not immediate mode: the verification mail
arrives a moment after register answers, as it does for a reader) and runserver, on a free port with a
temporary VAR_DIR. Only the block's first line, `BASE=...`, is pointed at that port.

bin/serve is run without its first step, `bash bin/setup`, which installs dependencies: the test suite runs
in an installed environment already, and the step must not reinstall into it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live.server import free_port

ROOT = Path(__file__).resolve().parents[2]
BASE_LINE = "BASE=http://127.0.0.1:8000"
SETUP_LINE = "bash bin/setup"
CD_LINE = 'cd "$(dirname "$0")/.."'


def readme_block() -> str:
    """The first ```sh block of the README's "Try it with curl" section, as written."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Try it with curl\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^```sh\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    assert match, "no ```sh block in the README's curl section"
    return match.group(1)


def serve_script() -> str:
    """bin/serve without its install step, run from the checkout wherever the copy lives."""
    lines = (ROOT / "bin" / "serve").read_text().splitlines()
    assert lines.count(SETUP_LINE) == 1 and lines.count(CD_LINE) == 1, "bin/serve changed: update this test"
    return "\n".join(f'cd "{ROOT}"' if line == CD_LINE else line for line in lines if line != SETUP_LINE)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, working directory whose var/ is the server's VAR_DIR) of a running bin/serve."""
    port = free_port()
    script = tmp_path / "serve"
    script.write_text(serve_script())
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "EMAIL_URL", "HUEY_IMMEDIATE", "SECRET_KEY", "DEBUG"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "VAR_DIR": str(tmp_path / "var"),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "PYTHONUNBUFFERED": "1",
        }
    )
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["bash", str(script)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, f"bin/serve exited early:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"bin/serve did not answer:\n{log_path.read_text()}"
            try:
                with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        yield url, tmp_path
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    assert "Traceback" not in log_path.read_text(), log_path.read_text()


def test_the_block_names_its_server_in_one_line() -> None:
    block = readme_block()
    assert block.splitlines()[0] == BASE_LINE
    assert block.count("8000") == 1, "the block should reach the server only through $BASE"


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed: the README block needs it")
def test_readme_curl_block_runs_verbatim_and_ends_with_me(served: tuple[str, Path]) -> None:
    url, workdir = served
    block = readme_block().replace(BASE_LINE, f"BASE={url}", 1)
    result = subprocess.run(
        ["sh", "-c", block], cwd=workdir, capture_output=True, text=True, timeout=90, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Each curl's answer is one line: register, verify, then /me last.
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("{") for line in lines), output
    registered, verified, me = (json.loads(line) for line in lines)
    assert (registered.get("email"), registered.get("email_verified")) == ("ada@example.com", False), output
    assert verified.get("email_verified") is True, output
    assert (me.get("email"), me.get("username"), me.get("email_verified")) == ("ada@example.com", "ada", True)
