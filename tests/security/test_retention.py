"""Issue #14, finding 6: the raw words in the bot's message table are kept for BOT_RETENTION_DAYS
(default 180), then purged by `python -m bot.retention purge`."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bot.config import BotConfig
from bot.conversations import State
from bot.retention import purge
from bot.store import Store

REPO = Path(__file__).resolve().parents[2]
DAY = 86400


async def _conversation(store: Store, user: str, age_days: float, state: State = State.BOT) -> str:
    conversation = await store.create_conversation("rest", user, {"user_id": "138****5678"})
    await store.add_incoming(conversation.id, "我的身份证370125199001011234")
    when = time.time() - age_days * DAY
    store.db.execute("UPDATE messages SET created_at = ? WHERE conversation_id = ?", (when, conversation.id))
    store.db.execute(
        "UPDATE conversations SET updated_at = ?, state = ? WHERE id = ?", (when, state.value, conversation.id)
    )
    return conversation.id


async def test_old_conversations_lose_their_words_recent_ones_keep_them(tmp_path: Path) -> None:
    assert BotConfig().retention_days == 180
    store = await Store(tmp_path / "bot.sqlite3").open()
    try:
        old = await _conversation(store, "h:old", 200, State.CLOSED)
        idle = await _conversation(store, "h:idle", 181)
        recent = await _conversation(store, "h:recent", 30)
        going = await _conversation(store, "h:going", 400)  # started long ago, still talking today
        await store.add_incoming(going, "还在吗")
        store.db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (time.time(), going))

        assert purge(store.db, 180, dry_run=True) == {"conversations": 2, "messages": 2}
        assert len(await store.history(old)) == 1  # a dry run changes nothing
        assert purge(store.db, 180) == {"conversations": 2, "messages": 2}

        assert await store.history(old) == [] and await store.history(idle) == []
        assert (await store.get_conversation(idle)).state == State.CLOSED
        assert len(await store.history(recent)) == 1 and len(await store.history(going)) == 2
        assert purge(store.db, 180) == {"conversations": 0, "messages": 0}  # nothing left to do
    finally:
        await store.close()


async def test_the_purge_command(tmp_path: Path) -> None:
    store = await Store(tmp_path / "bot.sqlite3").open()
    await _conversation(store, "h:old", 40)
    await store.close()
    env = {**os.environ, "JSB_DATA_DIR": str(tmp_path), "BOT_RETENTION_DAYS": "30"}
    result = subprocess.run(
        [sys.executable, "-m", "bot.retention", "purge"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "retention 30 days: purged 1 messages of 1 conversations" in result.stdout
    with sqlite3.connect(tmp_path / "bot.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0
