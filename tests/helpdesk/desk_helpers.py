"""Helpers for the 在线帮办 suites: a logged-in helper's HTTP client and console socket.

The bot service is the real one (tests/bot/bot_helpers.py starts it in the test's event loop on a
free port); helpers log in through the real login API and keep the HttpOnly cookie in a jar.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
for path in (HERE.parent / "bot", HERE.parents[1]):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bot_helpers import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    RunningBot,
    bots_stopped_afterwards,
    chromium_browser,
    free_port,
    launch_bot,
    nobody_listening,
)
from botapi_standin import BotApiStandin  # noqa: E402

from bot import accounts, apikeys  # noqa: E402
from bot.conversations import State  # noqa: E402
from bot.pseudonyms import pseudonym  # noqa: E402
from connectors.rest import PSEUDONYM_KEY, owner_of  # noqa: E402

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "BotApiStandin",
    "RunningBot",
    "bots_stopped_afterwards",
    "chromium_browser",
    "free_port",
    "launch_bot",
    "nobody_listening",
]

API = "/api/helpdesk"
PASSWORD = "correct horse battery"


def add_helper(bot: RunningBot, name: str, role: str = "helper") -> None:
    accounts.create(bot.store.db, name, role, PASSWORD)


def rest_app(bot: RunningBot, user_id: str = "app-user-1") -> tuple[dict[str, str], str]:
    """A calling app of the REST API: its request headers, and the external id its citizen
    `user_id`'s conversations have (the app and the citizen own it together)."""
    app, key = apikeys.create(bot.store.db, "portal")
    return {"Authorization": f"Bearer {key}"}, owner_of(app, user_id)


async def waiting_conversation(bot: RunningBot, channel: str = "rest", external_id: str = "app-user-1") -> str:
    """A conversation the assistant handed off (as after a `handoff` payload), without asking Rasa."""
    stored_id = external_id
    if channel == "rest":  # the REST connector stores a keyed pseudonym of the app's user_id
        stored_id = pseudonym(bot.app[PSEUDONYM_KEY], external_id)
    conversation = await bot.service.new_conversation(channel, stored_id, {"user_id": external_id})
    await bot.store.add_incoming(conversation.id, "转人工")
    conversation = await bot.store.set_state(conversation.id, State.WAITING_HELPER)
    await bot.store.add_handoff(
        conversation,
        {
            "reason": "request_human",
            "service": "guide.individual-business-registration",
            "service_title": "个体工商户设立登记",
            "step": None,
            "summary": "用户要求人工；事项《个体工商户设立登记》",
        },
    )
    return conversation.id


@dataclass
class HelperClient:
    bot: RunningBot
    http: aiohttp.ClientSession
    name: str
    csrf: str = ""
    frames: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    async def login(cls, bot: RunningBot, name: str, password: str = PASSWORD) -> HelperClient:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        client = cls(bot, http, name)
        async with http.post(bot.url + API + "/login", json={"name": name, "password": password}) as response:
            body = await response.json()
            assert response.status == 200, body
        client.csrf = body["csrf"]
        return client

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(self.bot.url + API + path) as response:
            return response.status, await response.json()

    async def post(self, path: str, body: dict[str, Any] | None = None, *, csrf: str | None = "") -> tuple[int, Any]:
        headers = {"X-CSRF-Token": self.csrf if csrf == "" else csrf} if csrf is not None else {}
        async with self.http.post(self.bot.url + API + path, json=body or {}, headers=headers) as response:
            return response.status, await response.json()

    async def socket(self) -> ConsoleSocket:
        ws = await self.http.ws_connect(self.bot.url.replace("http", "ws") + API + "/ws")
        console = ConsoleSocket(ws)
        assert (await console.next("ready"))["helper"] == self.name
        return console

    async def close(self) -> None:
        await self.http.close()


@dataclass
class ConsoleSocket:
    ws: aiohttp.ClientWebSocketResponse
    inbox: list[dict[str, Any]] = field(default_factory=list)

    async def next(self, *types: str, timeout: float = 30.0) -> dict[str, Any]:
        while True:
            for index, frame in enumerate(self.inbox):
                if frame["type"] in types:
                    return self.inbox.pop(index)
            message = await self.ws.receive(timeout=timeout)
            if message.type != aiohttp.WSMsgType.TEXT:
                return {"type": "_closed", "code": self.ws.close_code}
            self.inbox.append(json.loads(message.data))

    async def message_in(self, conversation_id: str, text: str, timeout: float = 30.0) -> dict[str, Any]:
        """The pushed message of this conversation with this text (skipping others)."""
        while True:
            frame = await self.next("message", timeout=timeout)
            if frame["conversation_id"] == conversation_id and frame["message"]["text"] == text:
                return frame["message"]
