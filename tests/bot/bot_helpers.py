"""Helpers for the bot-service suites: the real service on a free port, a widget-protocol client.

The bot service runs in the test's event loop (aiohttp AppRunner on a real TCP port) so tests can
also look into its SQLite store.  Rasa is the real one (`rasa_stack`, tests/conftest.py) or, for
the "Rasa is down" cases, simply a port where nothing listens.  (Fixtures are in conftest.py; test
modules import from here, a name no other suite uses.)
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the `bot` package, also when pytest is not started from the repo root
    sys.path.insert(0, str(REPO))

from bot import apikeys, texts  # noqa: E402
from bot.app import create_app  # noqa: E402
from bot.config import BotConfig  # noqa: E402
from bot.keys import SERVICE, STORE  # noqa: E402
from bot.service import ConversationService  # noqa: E402
from bot.store import Store  # noqa: E402

_NOT_AN_ANSWER = (texts.APOLOGY, texts.STILL_QUEUED)  # notices that say "the answer comes later"
_LATE_PREFIX = texts.LATE_ANSWER.split("“")[0]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nobody_listening() -> str:
    """A URL where no server runs: Rasa 'down' without imitating it."""
    return f"http://127.0.0.1:{free_port()}"


def closed_now(zone: str = "Asia/Shanghai") -> str:
    """HELPDESK_HOURS with one window starting two hours from now: the helpers' desk is closed now."""
    start = (datetime.now(ZoneInfo(zone)).hour + 2) % 24
    return f"1-7 {start:02d}:00-{start:02d}:59"


@dataclass
class RunningBot:
    config: BotConfig
    app: web.Application
    runner: web.AppRunner

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.config.port}/ws"

    @property
    def store(self) -> Store:
        return self.app[STORE]

    @property
    def service(self) -> ConversationService:
        return self.app[SERVICE]

    def api_key(self, app: str = "tests") -> dict[str, str]:
        """Request headers of a newly registered calling app (what `python -m bot.apikeys create` does)."""
        _, key = apikeys.create(self.store.db, app)
        return {"Authorization": f"Bearer {key}"}

    async def stop(self) -> None:
        await self.runner.cleanup()


StartBot = Callable[..., Awaitable[RunningBot]]


async def launch_bot(data_dir: Path, **settings: Any) -> RunningBot:
    """The real bot service in the test's event loop on a free port, with short retry timings;
    `settings` override any BotConfig field.  The caller stops it."""
    port = settings.pop("port", None) or free_port()
    defaults: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "data_dir": data_dir,
        "db_path": data_dir / "bot.sqlite3",
        "retry_interval": 0.5,
        "retry_max_backoff": 2.0,
        "shutdown_grace": 2.0,
    }
    config = BotConfig(**{**defaults, **settings}).check()
    runner = web.AppRunner(create_app(config), shutdown_timeout=2.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return RunningBot(config, runner.app, runner)


@asynccontextmanager
async def bots_stopped_afterwards(data_dir: Path, **defaults: Any) -> AsyncIterator[StartBot]:
    """For a start_bot fixture: start(**settings) -> launch_bot(data_dir) with `defaults` under the
    settings; every bot started is stopped (the last first) when the block ends."""
    started: list[RunningBot] = []

    async def start(**settings: Any) -> RunningBot:
        bot = await launch_bot(data_dir, **{**defaults, **settings})
        started.append(bot)
        return bot

    try:
        yield start
    finally:
        for bot in reversed(started):
            await bot.stop()


@asynccontextmanager
async def chromium_browser() -> AsyncIterator[Any]:
    """Debian's Chromium driven by Playwright (never `playwright install`)."""
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@dataclass
class WidgetClient:
    """Speaks the widget's websocket protocol, like widget.js does."""

    ws: aiohttp.ClientWebSocketResponse
    frames: list[dict[str, Any]] = field(default_factory=list)  # everything received, for debugging
    inbox: list[dict[str, Any]] = field(default_factory=list)  # received, not yet read by the test
    conversation_id: str | None = None

    async def hello(self, conversation_id: str | None = None, after_seq: int = 0) -> dict[str, Any]:
        await self.ws.send_json(
            {
                "type": "hello",
                "conversation_id": conversation_id,
                "visitor_id": "visitor-test-0001",
                "after_seq": after_seq,
            }
        )
        welcome = await self.next("welcome")
        self.conversation_id = welcome["conversation_id"]
        return welcome

    async def say(self, text: str, payload: str | None = None, client_id: str | None = None) -> dict[str, Any]:
        client_id = client_id or uuid.uuid4().hex
        await self.ws.send_json({"type": "message", "client_id": client_id, "text": text, "payload": payload})
        return await self.next("ack", "error")

    async def rate(self, seq: int, value: Any, reason: str | None = None, comment: str | None = None) -> dict[str, Any]:
        frame = {"type": "rate", "client_id": uuid.uuid4().hex, "seq": seq, "value": value}
        if reason or comment:
            frame.update(reason=reason, comment=comment)
        await self.ws.send_json(frame)
        return await self.next("ack", "error")

    async def receive(self, timeout: float = 60.0) -> dict[str, Any]:
        """The next frame from the socket (bypassing the inbox)."""
        message = await self.ws.receive(timeout=timeout)
        if message.type != aiohttp.WSMsgType.TEXT:
            return {"type": "_closed", "ws_type": message.type, "code": self.ws.close_code}
        frame = json.loads(message.data)
        self.frames.append(frame)
        return frame

    async def next(self, *types: str, timeout: float = 60.0) -> dict[str, Any]:
        """The oldest unread frame of one of these types; frames of other types stay unread."""
        while True:
            for index, frame in enumerate(self.inbox):
                if frame["type"] in types:
                    return self.inbox.pop(index)
            frame = await self.receive(timeout)
            if frame["type"] == "_closed":
                return frame
            self.inbox.append(frame)

    async def bot_messages(
        self, count: int = 1, timeout: float = 60.0, kind: str | None = None
    ) -> list[dict[str, Any]]:
        """The next `count` outgoing messages pushed to this socket (optionally of one kind)."""
        found: list[dict[str, Any]] = []
        while len(found) < count:
            frame = await self.next("message", timeout=timeout)
            assert frame["type"] == "message", frame
            message = frame["message"]
            if message["direction"] == "out" and (kind is None or message["kind"] == kind):
                found.append(message)
        return found

    async def answer_to(self, seq: int, timeout: float = 90.0) -> list[dict[str, Any]]:
        """The replies to citizen message `seq` once its answer (not just an apology) has arrived.

        One answer is stored and pushed as one batch; the batch ends where a message that does
        not reply to `seq` would begin, so this reads until the inbox holds no more replies.
        """
        replies: list[dict[str, Any]] = []
        while not any(r["kind"] == "text" for r in replies) and not _settled_without_text(replies):
            frame = await self.next("message", timeout=timeout)
            assert frame["type"] == "message", frame
            if frame["message"]["direction"] == "out" and frame["message"]["reply_to"] == seq:
                replies.append(frame["message"])
        while True:  # the rest of the batch is already on its way: read it without waiting long
            try:
                frame = await self.next("message", timeout=1.0)
            except asyncio.TimeoutError:
                break
            if frame["type"] != "message" or frame["message"].get("reply_to") != seq:
                self.inbox.insert(0, frame)
                break
            replies.append(frame["message"])
        return replies


def _settled_without_text(replies: list[dict[str, Any]]) -> bool:
    """Answers made only of a notice (e.g. the handoff notice) also end the wait."""
    return any(
        r["kind"] == "notice" and r["text"] not in _NOT_AN_ANSWER and not r["text"].startswith(_LATE_PREFIX)
        for r in replies
    )


ConnectWidget = Callable[..., Awaitable[WidgetClient]]
