"""Fixtures for the 在线帮办 suites (helpers in desk_helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from desk_helpers import HelperClient, RunningBot, bots_stopped_afterwards, chromium_browser


@pytest.fixture
async def start_desk_bot(tmp_path: Path) -> AsyncIterator[Any]:
    """start_desk_bot(rasa_url=…, **settings) -> RunningBot on a free port; all stopped afterwards."""
    # off-hours tests set their own helpdesk_hours
    async with bots_stopped_afterwards(tmp_path, api_rate=200.0, api_burst=400, helpdesk_hours="always") as start:
        yield start


@pytest.fixture
async def helpers() -> AsyncIterator[Any]:
    """login(bot, name) -> HelperClient; every client is closed afterwards."""
    clients: list[HelperClient] = []

    async def login(bot: RunningBot, name: str, **kwargs: Any) -> HelperClient:
        client = await HelperClient.login(bot, name, **kwargs)
        clients.append(client)
        return client

    yield login
    for client in clients:
        await client.close()


@pytest.fixture
async def anonymous() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    """Debian's Chromium driven by Playwright (never `playwright install`)."""
    async with chromium_browser() as browser:
        yield browser
