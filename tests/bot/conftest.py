"""Fixtures for the bot-service suites (helpers and types are in bot_helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from bot_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ConnectWidget,
    RunningBot,
    StartBot,
    WidgetClient,
    free_port,
)

from bot.app import create_app
from bot.config import BotConfig


@pytest.fixture
async def start_bot(tmp_path: Path) -> AsyncIterator[StartBot]:
    """start_bot(rasa_url=…, **settings) -> RunningBot; every bot started is stopped afterwards."""
    started: list[RunningBot] = []

    async def start(**settings: Any) -> RunningBot:
        port = settings.pop("port", None) or free_port()
        defaults: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": port,
            "data_dir": tmp_path,
            "db_path": tmp_path / "bot.sqlite3",
            "retry_interval": 0.5,
            "retry_max_backoff": 2.0,
            "shutdown_grace": 2.0,
        }
        config = BotConfig(**{**defaults, **settings}).check()
        app = create_app(config)
        runner = web.AppRunner(app, shutdown_timeout=2.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        bot = RunningBot(config, app, runner)
        started.append(bot)
        return bot

    yield start
    for bot in reversed(started):
        await bot.stop()


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
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()
