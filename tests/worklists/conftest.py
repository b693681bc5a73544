"""Fixtures for the staff worklist, import/export and retrain suites (helpers in staff_helpers.py)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from staff_helpers import RunningBot, StaffClient, bots_stopped_afterwards, chromium_browser


@pytest.fixture
def kb_copy(loaded_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the curated store, which the bot service opens (KB_DB)."""
    path = tmp_path / "kb-bot.sqlite3"
    shutil.copy(loaded_db, path)
    monkeypatch.setenv("KB_DB", str(path))
    return path


@pytest.fixture
async def start_bot(tmp_path: Path, kb_copy: Path) -> AsyncIterator[Any]:
    """start_bot(**settings) -> RunningBot on a free port (KB_DB: kb_copy); all stopped afterwards."""
    async with bots_stopped_afterwards(tmp_path, api_rate=200.0, api_burst=400) as start:
        yield start


@pytest.fixture
async def staff() -> AsyncIterator[Any]:
    """login(bot, name, role) -> StaffClient (the account is created); all closed afterwards."""
    clients: list[StaffClient] = []

    async def login(bot: RunningBot, name: str, role: str = "editor") -> StaffClient:
        client = await StaffClient.login(bot, name, role)
        clients.append(client)
        return client

    yield login
    for client in clients:
        await client.close()


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    async with chromium_browser() as browser:
        yield browser
