"""The measurements: processes started like `make run` starts them, timed from a client's side."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from tqdm import tqdm

from bench.stack import provision_api_key

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Servers:
    """The instant Rasa stand-in and the real bot service, each its own process.

    With `pin`, the bot service and the stand-in (Rasa's place: in `make run` they share a machine
    too) run on CPU 0 and the load generator on CPU 1, so the client's own work never delays the
    processes being measured.
    """

    workdir: Path
    pin: bool = True
    standin_port: int = field(default_factory=free_port)
    bot_port: int = field(default_factory=free_port)
    standin: subprocess.Popen[bytes] | None = None
    bot: subprocess.Popen[bytes] | None = None
    api_headers: dict[str, str] = field(default_factory=dict)  # the REST API's key, made at start

    @property
    def pinned(self) -> bool:
        return self.pin and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.standin_port}"

    @property
    def bot_url(self) -> str:
        return f"http://127.0.0.1:{self.bot_port}"

    def start(self) -> None:
        self.standin = subprocess.Popen(
            [sys.executable, "-m", "bench.bot.standin_rasa", "--port", str(self.standin_port)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / "standin.log").open("wb"),
        )
        if self.pinned:
            os.sched_setaffinity(self.standin.pid, {0})
            os.sched_setaffinity(0, {1})  # this process: the load generator
        env = {
            **os.environ,
            "BOT_PORT": str(self.bot_port),
            "RASA_URL": self.rasa_url,
            "JSB_DATA_DIR": str(self.workdir),
            "BOT_LOG_LEVEL": "INFO",  # as in production: two log lines and an access line per message
            # The per-connection and per-address limits protect citizens from floods; the benchmark
            # client is one address sending as fast as it can, so they are lifted here.
            "BOT_WS_RATE": "100000",
            "BOT_WS_RATE_BURST": "100000",
            "BOT_API_RATE": "100000",
            "BOT_API_RATE_BURST": "100000",
            "BOT_API_KEY_RATE": "100000",
            "BOT_API_KEY_BURST": "100000",
        }
        env.pop("TELEGRAM_TOKEN", None)
        self.api_headers = {"Authorization": "Bearer " + provision_api_key(env)}
        self.bot = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / "bot.log").open("wb"),
        )
        if self.pinned:
            os.sched_setaffinity(self.bot.pid, {0})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if _status(f"{self.bot_url}/readyz") == 200:
                return
            if self.bot.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"bot service did not become ready; see {self.workdir / 'bot.log'}")

    def bot_cpu_seconds(self) -> float:
        assert self.bot is not None
        times = psutil.Process(self.bot.pid).cpu_times()
        return times.user + times.system

    def bot_involuntary_switches(self) -> int:
        """How often the OS took the CPU away from the bot service (other processes wanted it)."""
        assert self.bot is not None
        return psutil.Process(self.bot.pid).num_ctx_switches().involuntary

    def log_size(self) -> int:
        return (self.workdir / "bot.log").stat().st_size

    def service_ms_since(self, offset: int) -> list[float]:
        """The service's own time per answered message (its `service_ms` log field) since a log offset."""
        with (self.workdir / "bot.log").open("rb") as log:
            log.seek(offset)
            lines = log.read().decode("utf-8", errors="replace").splitlines()
        values = []
        for line in lines:
            if '"message.answered"' in line:
                entry = json.loads(line)
                if "service_ms" in entry:
                    values.append(float(entry["service_ms"]))
        return values

    def bot_rss_mb(self) -> float:
        assert self.bot is not None
        return psutil.Process(self.bot.pid).memory_info().rss / 2**20

    def stop(self) -> None:
        for process in (self.bot, self.standin):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, OSError):
        return None


QUESTION = "个体工商户设立登记要带什么材料？"


async def time_direct(session: aiohttp.ClientSession, servers: Servers, count: int) -> list[float]:
    """Round trips straight to the stand-in: what a client pays for 'Rasa' alone."""
    timings = []
    for index in tqdm(range(count), desc="stand-in directly", unit="msg"):
        started = time.perf_counter()
        async with session.post(
            f"{servers.rasa_url}/webhooks/rest/webhook", json={"sender": f"direct-{index % 10}", "message": QUESTION}
        ) as response:
            await response.json()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


class Widget:
    """One websocket client speaking the widget protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    @classmethod
    async def connect(cls, session: aiohttp.ClientSession, servers: Servers) -> Widget:
        ws = await session.ws_connect(f"ws://127.0.0.1:{servers.bot_port}/ws", max_msg_size=0)
        widget = cls(ws)
        await ws.send_json({"type": "hello", "conversation_id": None, "visitor_id": uuid.uuid4().hex})
        await widget.until(lambda frame: frame["type"] == "welcome")
        return widget

    async def until(self, predicate: Any) -> dict[str, Any]:
        while True:
            message = await self.ws.receive(timeout=60)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"socket closed: {message.type}")
            frame = json.loads(message.data)
            if predicate(frame):
                return frame

    async def ask(self, text: str) -> float:
        """Milliseconds from sending a message to receiving the answer text."""
        client_id = uuid.uuid4().hex
        started = time.perf_counter()
        await self.ws.send_json({"type": "message", "client_id": client_id, "text": text})
        ack = await self.until(lambda frame: frame["type"] in ("ack", "error") and frame.get("client_id") == client_id)
        if ack["type"] == "error":
            raise RuntimeError(ack["message"])
        seq = ack["seq"]
        await self.until(
            lambda frame: (
                frame["type"] == "message"
                and frame["message"]["reply_to"] == seq
                and frame["message"]["kind"] == "text"
            )
        )
        return (time.perf_counter() - started) * 1000


async def time_widget(session: aiohttp.ClientSession, servers: Servers, count: int) -> list[float]:
    widget = await Widget.connect(session, servers)
    timings = [await widget.ask(QUESTION) for _ in tqdm(range(count), desc="through the widget socket", unit="msg")]
    await widget.ws.close()
    return timings


async def time_rest(session: aiohttp.ClientSession, servers: Servers, count: int) -> list[float]:
    timings = []
    for index in tqdm(range(count), desc="through the REST API", unit="msg"):
        started = time.perf_counter()
        async with session.post(
            f"{servers.bot_url}/api/v1/messages",
            json={"user_id": f"bench-{index % 10}", "text": QUESTION},
            headers=servers.api_headers,
        ) as response:
            result = await response.json()
        if result.get("status") != "answered":
            raise RuntimeError(f"not answered: {result}")
        timings.append((time.perf_counter() - started) * 1000)
    return timings


@dataclass
class MemoryStep:
    connections: int
    rss_mb: float
    peak_rss_mb: float


@dataclass
class ConcurrentBurst:
    connections: int
    latencies_ms: list[float]
    seconds: float


async def hold_connections(
    session: aiohttp.ClientSession, servers: Servers, steps: list[int], hold_seconds: float
) -> tuple[list[MemoryStep], ConcurrentBurst]:
    """Open widgets in steps (each with a conversation and one answered message), hold, sample RSS."""
    widgets: list[Widget] = []
    results = [MemoryStep(0, servers.bot_rss_mb(), servers.bot_rss_mb())]
    progress = tqdm(total=steps[-1], desc="open widget connections", unit="conn")
    for target in steps:
        while len(widgets) < target:
            batch = min(25, target - len(widgets))
            opened = await asyncio.gather(*(Widget.connect(session, servers) for _ in range(batch)))
            await asyncio.gather(*(widget.ask(QUESTION) for widget in opened))
            widgets.extend(opened)
            progress.update(batch)
        peak = 0.0
        deadline = time.monotonic() + hold_seconds
        while time.monotonic() < deadline:
            peak = max(peak, servers.bot_rss_mb())
            await asyncio.sleep(0.25)
        results.append(MemoryStep(target, servers.bot_rss_mb(), peak))
    progress.close()
    # Everyone asks at the same moment, all sockets open.
    started = time.perf_counter()
    latencies = list(await asyncio.gather(*(widget.ask(QUESTION) for widget in widgets)))
    burst = ConcurrentBurst(len(widgets), latencies, time.perf_counter() - started)
    results[-1].peak_rss_mb = max(results[-1].peak_rss_mb, servers.bot_rss_mb())
    for widget in widgets:
        await widget.ws.close()
    return results, burst


@dataclass
class Timed:
    """Client-seen round trips, plus what the bot service itself logged and spent on them."""

    client_ms: list[float]
    service_ms: list[float]
    cpu_ms_per_message: float
    preemptions_per_message: float


async def timed(servers: Servers, count: int, run: Any) -> Timed:
    offset, cpu, switches = servers.log_size(), servers.bot_cpu_seconds(), servers.bot_involuntary_switches()
    client = await run()
    await asyncio.sleep(0.5)  # let the last log lines reach the file
    cpu_ms = (servers.bot_cpu_seconds() - cpu) * 1000 / count
    preempted = (servers.bot_involuntary_switches() - switches) / count
    return Timed(client, servers.service_ms_since(offset), cpu_ms, preempted)


async def time_real_rasa(session: aiohttp.ClientSession, rasa_url: str, count: int) -> list[float]:
    """For context: the real assistant's own time per message, asked directly (no bot service)."""
    questions = [QUESTION, "那要多少钱？", "在哪里办？", "网上怎么办", "营业执照丢了怎么补办"]
    timings = []
    for index in tqdm(range(count), desc="real Rasa directly", unit="msg"):
        started = time.perf_counter()
        async with session.post(
            f"{rasa_url}/webhooks/rest/webhook",
            json={"sender": f"bench-real-{index // len(questions)}", "message": questions[index % len(questions)]},
        ) as response:
            await response.json()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


@dataclass
class Results:
    direct_ms: list[float]
    widget: Timed
    rest: Timed
    memory: list[MemoryStep]
    burst: ConcurrentBurst
    settings: dict[str, Any]
    real_rasa_ms: list[float] = field(default_factory=list)


async def run_all(
    messages: int, warmup: int, steps: list[int], hold_seconds: float, pin: bool = True, real_rasa: str | None = None
) -> Results:
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="jsb-bench-bot-"))
    servers = Servers(workdir, pin)
    servers.start()
    try:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            # Warm-up: imports, SQLite pages, connection pools.
            await time_direct(session, servers, warmup)
            await time_widget(session, servers, warmup)
            await time_rest(session, servers, warmup)
            direct = await time_direct(session, servers, messages)
            widget = await timed(servers, messages, lambda: time_widget(session, servers, messages))
            rest = await timed(servers, messages, lambda: time_rest(session, servers, messages))
            memory, burst = await hold_connections(session, servers, steps, hold_seconds)
            real = await time_real_rasa(session, real_rasa, 100) if real_rasa else []
    finally:
        servers.stop()
    settings = {
        "messages": messages,
        "warmup": warmup,
        "steps": steps,
        "hold_seconds": hold_seconds,
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "python": sys.version.split()[0],
        "workdir": str(workdir),
        "pinned": servers.pinned,
    }
    return Results(direct, widget, rest, memory, burst, settings, real)
