"""The real Rasa server and action server for tests: trained once, started on free ports.

Nothing here imitates Rasa: the model is trained by `scripts/train.sh` (cached between local runs
in var/test-models; Rasa's fingerprint skips training when nothing changed), and both servers run
as separate processes exactly as `make run` starts them.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "var" / "test-models"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except (urllib.error.URLError, OSError):
        return None


def train_model() -> Path:
    env = {**os.environ, "RASA_MODELS_DIR": str(MODELS), "RASA_TELEMETRY_ENABLED": "false"}
    env.pop("KB_DB", None)  # train on the curated data files
    MODELS.mkdir(parents=True, exist_ok=True)
    # Two test sessions in one checkout (a developer's and an editor's run) share var/: train one at a time.
    with (MODELS / ".train.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(
            [str(REPO / "scripts" / "train.sh")], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
        )
    if result.returncode != 0:
        raise RuntimeError(f"training failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return MODELS / "jishiban.tar.gz"


class RasaStack:
    """A running action server + Rasa server pair; `stop_rasa`/`start_rasa` simulate an outage."""

    def __init__(self, model_path: Path, kb_db: Path, workdir: Path) -> None:
        self.model_path = model_path
        self.kb_db = kb_db
        self.workdir = workdir
        self.rasa_port = free_port()
        self.action_port = free_port()
        self.rasa_url = f"http://127.0.0.1:{self.rasa_port}"
        self.action_url = f"http://127.0.0.1:{self.action_port}"
        self.env = {
            **os.environ,
            "KB_DB": str(kb_db),
            "JSB_DATA_DIR": str(workdir),
            "ACTION_ENDPOINT_URL": f"{self.action_url}/webhook",
            "RASA_TRACKER_DB": str(workdir / "rasa_tracker.sqlite3"),
            "RASA_LOCK_DB": str(workdir / "rasa_locks.sqlite3"),
            "RASA_TELEMETRY_ENABLED": "false",
            "SANIC_WORKERS": "1",
            "PYTHONUNBUFFERED": "1",
        }
        self._actions: subprocess.Popen[bytes] | None = None
        self._rasa: subprocess.Popen[bytes] | None = None

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _wait(self, name: str, process: subprocess.Popen[bytes], url: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if _get(url) == 200:
                return
            time.sleep(0.5)
        log = (self.workdir / f"{name}.log").read_text(errors="replace")[-4000:]
        raise RuntimeError(f"{name} did not become ready at {url}:\n{log}")

    def start_actions(self) -> None:
        self._actions = self._spawn(
            "actions", ["scripts/action_server.py", "--actions", "actions", "--port", str(self.action_port)]
        )
        self._wait("actions", self._actions, f"{self.action_url}/health")

    def start_rasa(self) -> None:
        self._rasa = self._spawn(
            "rasa",
            [
                "scripts/rasa_server.py",  # rasa with the project's runtime fixes, as the Procfile starts it
                "run",
                "--enable-api",
                "--port",
                str(self.rasa_port),
                "--model",
                str(self.model_path),
                "--endpoints",
                "endpoints.yml",
                "--credentials",
                "credentials.yml",
            ],
        )
        self._wait("rasa", self._rasa, f"{self.rasa_url}/status")

    @staticmethod
    def _stop(process: subprocess.Popen[bytes] | None) -> None:
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    @property
    def rasa_pid(self) -> int | None:
        """The Rasa server's process (started through scripts/rasa_server.py), while it runs."""
        return self._rasa.pid if self._rasa is not None and self._rasa.poll() is None else None

    def stop_rasa(self) -> None:
        self._stop(self._rasa)
        self._rasa = None

    def stop(self) -> None:
        self.stop_rasa()
        self._stop(self._actions)
        self._actions = None


def start_stack(kb_db_template: Path, workdir: Path) -> RasaStack:
    model = train_model()
    kb_db = workdir / "kb.sqlite3"
    shutil.copy(kb_db_template, kb_db)
    stack = RasaStack(model, kb_db, workdir)
    try:
        stack.start_actions()
        stack.start_rasa()
    except Exception:
        stack.stop()
        raise
    return stack
