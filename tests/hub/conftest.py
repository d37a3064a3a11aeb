"""A real Hub server for the Hub tests: olah (PyPI, MIT) on 127.0.0.1, offline, serving the git
repositories under its mirrors folder as Hub repos (`<mirrors>/datasets/<owner>/<name>`, main).

Started once per module at a free port, with a bounded wait for it to answer, and always stopped
(terminate, then kill). Nothing is proxied: `[accessibility] offline = true`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

#: how long olah may take to answer its first request (it imports FastAPI, uvicorn, GitPython)
START_TIMEOUT_S = 90.0
OLAH = "from olah.server import cli; cli()"


@dataclass(frozen=True)
class HubServer:
    url: str
    mirrors: Path
    log: Path

    def repo_dir(self, repo_id: str) -> Path:
        """Where `fsbench push --to` writes a repo this server serves as `repo_id`."""
        return self.mirrors / "datasets" / repo_id

    @staticmethod
    def dead_url() -> str:
        """A URL on 127.0.0.1 where nothing listens: a Hub server that is down."""
        return f"http://127.0.0.1:{free_port()}"

    def env(self, hf_home: Path, **extra: str) -> dict[str, str]:
        """Environment for a subprocess that talks to this server only, with its own HF cache."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        return {**env, "HF_ENDPOINT": self.url, "HF_HOME": str(hf_home), "HF_HUB_DISABLE_TELEMETRY": "1", **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(f"{url}/api/datasets/none/none/revision/main", timeout=2)
    except urllib.error.HTTPError:  # any HTTP answer (401 "not found" here) means it is serving
        return True
    except OSError:
        return False
    return True


def start(root: Path) -> tuple[subprocess.Popen, HubServer]:
    pytest.importorskip("olah", reason="the Hub tests need olah: pip install -e '.[test]'")
    mirrors, port = root / "mirrors", free_port()
    (mirrors / "datasets").mkdir(parents=True, exist_ok=True)
    config = root / "olah.toml"
    config.write_text(
        f'[basic]\nhost = "127.0.0.1"\nport = {port}\nrepos-path = "{root / "cache"}"\n'
        f'mirrors-path = ["{mirrors}"]\n\n[accessibility]\noffline = true\n'
    )
    log = root / "olah.log"
    server = HubServer(f"http://127.0.0.1:{port}", mirrors, log)
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-c", OLAH, "-c", str(config), "--log-path", str(root / "logs")],
                                cwd=root, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"olah exited with {proc.returncode} before serving: {log.read_text()[-600:]}")
        if _answers(server.url):
            return proc, server
        time.sleep(0.25)
    stop(proc)
    pytest.fail(f"olah did not answer within {START_TIMEOUT_S:.0f} s: {log.read_text()[-600:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def hub_server(tmp_path_factory) -> HubServer:
    proc, server = start(tmp_path_factory.mktemp("olah"))
    try:
        yield server
    finally:
        stop(proc)
