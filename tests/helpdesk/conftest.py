"""Fixtures for the 在线帮办 suites (helpers in desk_helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from desk_helpers import CHROMIUM, CHROMIUM_ARGS, HelperClient, RunningBot, free_port

from bot.app import create_app
from bot.config import BotConfig


@pytest.fixture
async def start_desk_bot(tmp_path: Path) -> AsyncIterator[Any]:
    """start_desk_bot(rasa_url=…, **settings) -> RunningBot on a free port; all stopped afterwards."""
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
            "api_rate": 200.0,
            "api_burst": 400,
            "helpdesk_hours": "always",  # tests about off hours set their own
        }
        config = BotConfig(**{**defaults, **settings}).check()
        runner = web.AppRunner(create_app(config), shutdown_timeout=2.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        bot = RunningBot(config, runner.app, runner)
        started.append(bot)
        return bot

    yield start
    for bot in reversed(started):
        await bot.stop()


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
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()
