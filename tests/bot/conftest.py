"""Fixtures for the bot-service suites (helpers and types are in bot_helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from bot_helpers import ConnectWidget, RunningBot, StartBot, WidgetClient, bots_stopped_afterwards, chromium_browser


@pytest.fixture
async def start_bot(tmp_path: Path) -> AsyncIterator[StartBot]:
    """start_bot(rasa_url=…, **settings) -> RunningBot; every bot started is stopped afterwards."""
    async with bots_stopped_afterwards(tmp_path) as start:
        yield start


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def connect_widget(http: aiohttp.ClientSession) -> AsyncIterator[ConnectWidget]:
    clients: list[WidgetClient] = []

    async def connect(bot: RunningBot, **kwargs: Any) -> WidgetClient:
        ws = await http.ws_connect(bot.ws_url, **kwargs)
        client = WidgetClient(ws)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        await client.ws.close()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium driven by Playwright (never `playwright install`)."""
    async with chromium_browser() as chromium:
        yield chromium
