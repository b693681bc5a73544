"""Fixtures of every suite that starts the real bot service (tests/bot, tests/security); their
conftest.py files import them by name, as tests/conftest.py does with kb_fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from bot_helpers import StartBot, bots_stopped_afterwards


@pytest.fixture
async def start_bot(tmp_path: Path) -> AsyncIterator[StartBot]:
    """start_bot(rasa_url=…, **settings) -> RunningBot; every bot started is stopped afterwards."""
    async with bots_stopped_afterwards(tmp_path) as start:
        yield start


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
