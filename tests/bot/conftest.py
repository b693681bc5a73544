"""Fixtures for the bot-service suites (helpers and types are in bot_helpers.py, the fixtures shared
with tests/security in bot_fixtures.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from bot_fixtures import http, start_bot  # noqa: F401 - fixtures are found by name
from bot_helpers import ConnectWidget, RunningBot, WidgetClient, chromium_browser


@pytest.fixture
async def connect_widget(http: aiohttp.ClientSession) -> AsyncIterator[ConnectWidget]:  # noqa: F811
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
