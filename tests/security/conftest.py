"""Fixtures for the security suites: the real bot service (tests/bot/bot_helpers.py) on a free port."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

HERE = Path(__file__).resolve().parent
for path in (HERE.parent / "bot", HERE.parents[1]):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bot_helpers import StartBot, bots_stopped_afterwards  # noqa: E402


@pytest.fixture
async def start_bot(tmp_path: Path) -> AsyncIterator[StartBot]:
    """start_bot(rasa_url=…, **settings) -> RunningBot; every bot started is stopped afterwards."""
    async with bots_stopped_afterwards(tmp_path) as start:
        yield start


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
