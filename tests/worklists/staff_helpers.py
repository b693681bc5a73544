"""Helpers for the staff suites: a logged-in staff member's HTTP client, and conversations made
through the real bot service (tests/bot/bot_helpers.py) so the store holds what citizens caused."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
for path in (HERE.parent / "bot", HERE.parents[1]):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bot_helpers import RunningBot, bots_stopped_afterwards, chromium_browser, launch_bot  # noqa: E402

from bot import accounts  # noqa: E402

__all__ = [
    "PASSWORD",
    "RunningBot",
    "StaffClient",
    "bots_stopped_afterwards",
    "chromium_browser",
    "launch_bot",
    "training_status_when",
]

PASSWORD = "correct horse battery"


@dataclass
class StaffClient:
    bot: RunningBot
    http: aiohttp.ClientSession
    name: str
    csrf: str = ""

    @classmethod
    async def login(cls, bot: RunningBot, name: str, role: str) -> StaffClient:
        accounts.create(bot.store.db, name, role, PASSWORD)
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        client = cls(bot, http, name)
        async with http.post(bot.url + "/api/helpdesk/login", json={"name": name, "password": PASSWORD}) as response:
            body = await response.json()
            assert response.status == 200, body
        client.csrf = body["csrf"]
        return client

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(self.bot.url + path) as response:
            return response.status, await response.json()

    async def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        headers = {"X-CSRF-Token": self.csrf}
        async with self.http.post(self.bot.url + path, json=body or {}, headers=headers) as response:
            return response.status, await response.json()

    async def close(self) -> None:
        await self.http.close()


async def training_status_when(
    client: StaffClient, predicate: Callable[[dict[str, Any]], bool], timeout: float, poll: float
) -> dict[str, Any]:
    """Poll GET /api/kb/training every `poll` seconds until `predicate(status)` holds; the timeout
    only stops a hang."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status, body = await client.get("/api/kb/training")
        assert status == 200, body
        if predicate(body):
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(poll)
