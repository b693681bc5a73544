"""Fixtures for the curation suites (helpers in curation_helpers.py)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent / "bot", HERE.parents[1]):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bot_helpers import RunningBot, launch_bot, nobody_listening  # noqa: E402
from curation_helpers import StaffClient, add_accounts  # noqa: E402


@pytest.fixture
def kb_db(loaded_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the loaded store, named by KB_DB for everything opened in this test."""
    path = tmp_path / "kb-served.sqlite3"
    shutil.copy(loaded_db, path)
    monkeypatch.setenv("KB_DB", str(path))
    monkeypatch.delenv("KB_BACKEND", raising=False)
    monkeypatch.delenv("KB_ALLOW_SELF_APPROVAL", raising=False)
    return path


@pytest.fixture
async def curation_bot(kb_db: Path, tmp_path: Path) -> AsyncIterator[RunningBot]:
    """The real bot service (Rasa unreachable: these tests do not chat) with one account per role."""
    bot = await launch_bot(tmp_path, rasa_url=nobody_listening(), api_rate=500.0, api_burst=1000)
    add_accounts(bot.store.db)
    yield bot
    await bot.stop()


@pytest.fixture
async def staff() -> AsyncIterator[Any]:
    """login(bot, name or None) -> StaffClient; every client is closed afterwards."""
    clients: list[StaffClient] = []

    async def login(bot: RunningBot, name: str | None) -> StaffClient:
        client = await StaffClient.login(bot.url, name)
        clients.append(client)
        return client

    yield login
    for client in clients:
        await client.close()
