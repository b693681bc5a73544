"""The engines of a scaled-out deployment, started for a test: PostgreSQL, Redis and haproxy from
Debian's packages (installed by scripts/ensure_engines.sh when missing), each on a free port with
its data in a temp folder, stopped cleanly (and the folder removed) afterwards.  Nothing here
imitates an engine; the servers are the ones an operator runs.

PostgreSQL refuses to run as root: as root its processes run as the `postgres` user of Debian's
package, in a folder of their own under /tmp (pytest's temp folders are private to root).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NICE = ["nice", "-n", "5"]  # the engines yield to the processes under test on a shared machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def ensure_installed() -> str:
    """Run scripts/ensure_engines.sh; its message when it could not install (else '')."""
    result = subprocess.run(
        [str(REPO / "scripts" / "ensure_engines.sh")], capture_output=True, text=True, timeout=900, check=False
    )
    return (result.stderr or result.stdout).strip() if result.returncode else ""


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def redis_server() -> str | None:
    return shutil.which("redis-server")


def haproxy_bin() -> str | None:
    return shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None)


def _stop(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_for(check: object, what: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise RuntimeError(f"{what} did not start:\n{tail}")


@dataclass
class Postgres:
    """A PostgreSQL cluster of its own: initdb in a temp folder, a free port on 127.0.0.1, the unix
    socket in that folder too (never /var/run/postgresql), trust authentication on loopback."""

    bindir: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="jsb-pg-")))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    durable: bool = False  # bench/scale: fsync on, as an operator runs it (tests need no crash safety)

    def _as_owner(self) -> dict[str, str]:
        return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        data = self.root / "data"
        log = self.root / "postgres.log"
        subprocess.run(
            [str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
            cwd=self.root,
            capture_output=True,
            check=True,
            timeout=120,
            **self._as_owner(),  # type: ignore[arg-type]
        )
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    *NICE,
                    str(self.bindir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.root),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "max_connections=300",
                    # A test cluster: a crash of the machine may lose it.  The kill -9 tests kill
                    # the assistant's processes, never this server.
                    *([] if self.durable else ["-c", "fsync=off", "-c", "full_page_writes=off"]),
                ],
                cwd=self.root,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self._as_owner(),  # type: ignore[arg-type]
            )
        _wait_for(lambda: self._ready(), "PostgreSQL", self.process, log)

    def _ready(self) -> bool:
        result = subprocess.run(
            [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"], check=False
        )
        return result.returncode == 0

    def create_database(self, name: str) -> str:
        subprocess.run(
            [str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return self.url(name)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        _stop(self.process, signal.SIGINT)  # "fast" shutdown: ends sessions, writes a checkpoint
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Redis:
    """A Redis server of its own on a free port; nothing persisted (no RDB, no AOF)."""

    binary: str
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="jsb-redis-")))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.root / "redis.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    *NICE,
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(self.root),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                cwd=self.root,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_for(lambda: listening(self.port), "Redis", self.process, log)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        _stop(self.process)  # SIGTERM: Redis exits at once (nothing to save)
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Haproxy:
    """haproxy in front of several HTTP servers: round robin, a health check per server, and a
    request that could not reach a server (connection refused: nothing was sent) tried on another."""

    binary: str
    servers: list[str]  # host:port
    check_path: str = "/health"
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="jsb-haproxy-")))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        servers = "\n".join(
            f"    server s{n} {address} check inter 500 fall 2 rise 2" for n, address in enumerate(self.servers)
        )
        return f"""global
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    retries 2
    option redispatch
    retry-on conn-failure
frontend assistant
    bind 127.0.0.1:{self.port}
    default_backend instances
backend instances
    balance roundrobin
    option httpchk GET {self.check_path}
{servers}
"""

    def start(self) -> None:
        config = self.root / "haproxy.cfg"
        config.write_text(self.config())
        check = subprocess.run([self.binary, "-c", "-f", str(config)], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy refused its configuration:\n{check.stdout}{check.stderr}")
        log = self.root / "haproxy.log"
        with log.open("ab") as out:
            # -db: in the foreground, no daemon (this process owns it and stops it).
            self.process = subprocess.Popen(
                [*NICE, self.binary, "-db", "-f", str(config)],
                cwd=self.root,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_for(lambda: listening(self.port), "haproxy", self.process, log)

    def stop(self) -> None:
        _stop(self.process)  # the servers behind it are stopped first: nothing is in flight
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)
