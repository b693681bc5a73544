"""Fixtures for the security suites: the real bot service (tests/bot/bot_fixtures.py) on a free port."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
for path in (HERE.parent / "bot", HERE.parents[1]):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bot_fixtures import http, start_bot  # noqa: E402, F401 - fixtures are found by name
from bot_helpers import StartBot  # noqa: E402


@pytest.fixture
async def standin() -> AsyncIterator[Any]:
    """The local stand-in for Telegram's Bot API (tests/bot/botapi_standin.py)."""
    from botapi_standin import BotApiStandin

    api = await BotApiStandin().start()
    yield api
    await api.stop()


@pytest.fixture
def start_telegram_bot(standin: Any, start_bot: StartBot) -> Any:  # noqa: F811
    """start_telegram_bot(**settings): the bot service with the Telegram channel in webhook mode,
    pointed at the stand-in; Rasa down unless a setting says otherwise."""
    from bot_helpers import free_port, nobody_listening

    from connectors.telegram import READY, WEBHOOK_PATH

    async def start(**settings: Any) -> Any:
        port = free_port()
        bot = await start_bot(
            **{
                "port": port,
                "rasa_url": nobody_listening(),
                "telegram_token": standin.token,
                "telegram_base_url": standin.base_url,
                "telegram_base_file_url": standin.base_file_url,
                "telegram_mode": "webhook",
                "telegram_webhook_url": f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
                **settings,
            }
        )
        await asyncio.wait_for(bot.app[READY].wait(), 30)
        return bot

    return start


@pytest.fixture
async def telegram_bot(start_telegram_bot: Any) -> Any:
    return await start_telegram_bot()
