"""The real assistant for benchmarks: `scripts/run.sh` (exactly what `make run` starts: the action
server, Rasa and the bot service under scripts/supervise.py) on free ports, with its own scratch data folder.

    with running_stack(Path("/tmp/bench-run")) as stack:
        ... POST stack.bot_url + "/api/v1/messages" with headers=stack.api_headers ...
        stack.pids()          # {"actions": 123, "rasa": 456, "bot": 789}: for CPU and RSS readings
        stack.rasa_instances()  # [[456], [457]]: each Rasa process (RASA_INSTANCES, default 2)
        stack.tracker(conversation_id)   # Rasa's tracker (slots, events), through its token-guarded API

The model is trained into the repository's `models/` (as `make run` does; skipped by Rasa when
nothing changed).  Extra environment (e.g. `KB_DENSE=false`) goes to every process.  The REST API
needs a calling app's key: the stack registers one ("bench") with `python -m bot.apikeys`, as an
operator would, and hands it out as `stack.api_headers`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
# Which process is which, by a piece of its command line (see Procfile).
ROLES = {"actions": "action_server.py", "rasa": "rasa_server.py run", "bot": "-m bot"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports (the Rasa instances listen on RASA_PORT + n)."""
    for _ in range(50):
        first = free_port()
        try:
            with contextlib.ExitStack() as held:
                for port in range(first, first + count):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
    raise RuntimeError(f"no {count} consecutive free ports")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def provision_api_key(env: dict[str, str], app: str = "bench") -> str:
    """A key for calling app `app` in the bot database that `env` points at (JSB_DATA_DIR / BOT_DB),
    made with the operators' command; a second run on the same data folder rotates it."""
    for command in ("create", "rotate"):
        done = subprocess.run(
            [str(REPO / ".venv" / "bin" / "python"), "-m", "bot.apikeys", command, app, "--quiet"],
            cwd=REPO,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode == 0:
            return done.stdout.strip()
    raise RuntimeError(f"could not make an API key: {done.stderr}")


@dataclass
class Stack:
    bot_url: str
    rasa_url: str
    action_url: str
    rasa_token: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    api_key: str = ""
    rasa_urls: tuple[str, ...] = ()  # every Rasa instance, the first is rasa_url

    @property
    def api_headers(self) -> dict[str, str]:
        """What a calling app sends with every REST call."""
        return {"Authorization": f"Bearer {self.api_key}"}

    def processes(self) -> dict[str, list[int]]:
        """Every Python process of each service, its main process first (all Rasa instances under "rasa")."""
        found: dict[str, list[int]] = {}
        for role, groups in self._groups().items():
            found[role] = [pid for group in groups for pid in group]
        return found

    def rasa_instances(self) -> list[list[int]]:
        """The processes of each Rasa instance, in the order of rasa_urls (its main process first)."""
        return self._groups().get("rasa", [])

    def _groups(self) -> dict[str, list[list[int]]]:
        """Per role, each main process (one not started by another of its role) with its children."""
        roles: dict[int, tuple[str, str]] = {}
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                command = " ".join(child.cmdline())
            except psutil.Error:
                continue
            if "python" not in command.split(" ", 1)[0]:
                continue  # a shell wrapper, if any (the supervisor execs the command itself)
            for role, marker in ROLES.items():
                if marker in command:
                    roles[child.pid] = (role, command)
        groups: dict[str, list[tuple[str, list[int]]]] = {}
        for pid, (role, command) in roles.items():
            try:
                parent = psutil.Process(pid).ppid()
                if roles.get(parent, ("",))[0] == role:
                    continue  # a worker: listed with its main process
                workers = sorted(p.pid for p in psutil.Process(pid).children(recursive=True))
            except psutil.Error:
                continue
            groups.setdefault(role, []).append((command, [pid, *workers]))
        # Rasa instances by port (RASA_PORT + n), so index n is the process behind rasa_urls[n].
        return {role: [pids for _, pids in sorted(found, key=_port_of)] for role, found in groups.items()}

    def pids(self) -> dict[str, int]:
        """The main PID of each service process (the Python process itself, not its shell)."""
        return {role: pids[0] for role, pids in self.processes().items()}

    def tracker(self, conversation_id: str) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.rasa_url}/conversations/{conversation_id}/tracker?token={self.rasa_token}"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return dict(json.load(response))

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # the supervisor stops every process it started
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _port_of(item: tuple[str, list[int]]) -> int:
    words = item[0].split()
    return int(words[words.index("--port") + 1]) if "--port" in words else 0


def start(data_dir: Path, env: dict[str, str] | None = None, timeout: float = 900) -> Stack:
    """Start the stack and wait until all three services answer (training first if needed)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    instances = int((env or {}).get("RASA_INSTANCES") or os.environ.get("RASA_INSTANCES") or 2)
    ports = {"RASA_PORT": free_ports(instances), "ACTION_PORT": free_port(), "BOT_PORT": free_port()}
    token = secrets.token_hex(16)
    settings = {
        "JSB_DATA_DIR": str(data_dir),
        "RASA_TOKEN": token,
        "BOT_RETRAIN": "off",
        "RASA_INSTANCES": str(instances),
        **{name: str(port) for name, port in ports.items()},
        **(env or {}),
    }
    api_key = provision_api_key(settings)
    log_path = data_dir / "stack.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(REPO / "scripts" / "run.sh")],
            cwd=REPO,
            env={**os.environ, **settings},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() signals the supervisor and its children
        )
    stack = Stack(
        bot_url=f"http://127.0.0.1:{ports['BOT_PORT']}",
        rasa_url=f"http://127.0.0.1:{ports['RASA_PORT']}",
        rasa_urls=tuple(f"http://127.0.0.1:{ports['RASA_PORT'] + n}" for n in range(instances)),
        action_url=f"http://127.0.0.1:{ports['ACTION_PORT']}",
        rasa_token=token,
        data_dir=data_dir,
        process=process,
        log_path=log_path,
        api_key=api_key,
    )
    # Every Rasa instance, not just one: the caller measures a stack that is all there.
    checks = [stack.action_url + "/health", *(url + "/" for url in stack.rasa_urls), stack.bot_url + "/readyz"]
    deadline = time.monotonic() + timeout
    while not all(_answers(url) for url in checks):
        if process.poll() is not None or time.monotonic() > deadline:
            stack.stop()
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the stack did not come up (see {log_path}):\n{tail}")
        time.sleep(1)
    _wait_for_vectors(stack, {**os.environ, **settings}, deadline)
    return stack


def _wait_for_vectors(stack: Stack, env: dict[str, str], deadline: float) -> None:
    """A fresh data folder's sentence vectors are encoded by the bot service in the background
    after it starts (scripts/run.sh loads with --vectors-later): a benchmark measures the stack
    once they are all there, not the first minutes in which a core encodes the knowledge base."""
    if env.get("KB_DENSE", "true").lower() in ("0", "false", "off", "no"):
        return
    # Imported here: the fault tests start stacks without vectors and need none of this.
    from knowledge_base.store import Store
    from knowledge_base.vector_builder import read_progress

    store = Store(Path(env.get("KB_DB") or stack.data_dir / "kb.sqlite3"))
    while read_progress(store)["entries_waiting"]:
        if time.monotonic() > deadline:
            stack.stop()
            raise RuntimeError("the knowledge base's sentence vectors were not ready in time")
        time.sleep(2)


@contextlib.contextmanager
def running_stack(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[Stack]:
    stack = start(data_dir, env)
    try:
        yield stack
    finally:
        stack.stop()
