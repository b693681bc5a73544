"""Five-level 好差评 (bot/ratings.py): levels and reasons checked, a rating is a state on the rated
message (no chat message, Rasa not asked), low ones carry a deadline, old binary ratings migrate."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from bot_helpers import ConnectWidget, StartBot, nobody_listening

from bot import ratings
from bot.conversations import Button, Entry, Kind, OutgoingDraft
from bot.store import Store

ENTRY = Entry("guide.x", "个体工商户设立登记", "guide", None, 1)


def test_levels_and_old_values() -> None:
    assert [ratings.level_of(v) for v in (5, "4", 3, "2", 1)] == [5, 4, 3, 2, 1]
    assert (ratings.level_of("good"), ratings.level_of("bad")) == (4, 2)
    for bad in (0, 6, "5.0", "很好", None, True, 2.5):
        with pytest.raises(ratings.RatingError):
            ratings.level_of(bad)
    assert [ratings.is_low(n) for n in (1, 2, 3)] == [True, True, False]
    assert ratings.check_reason("wrong", "  太旧了 ") == ("wrong", "太旧了")
    assert ratings.check_reason(None, "  ") == (None, None)
    with pytest.raises(ratings.RatingError):
        ratings.check_reason("made_up", None)
    with pytest.raises(ratings.RatingError):
        ratings.check_reason(None, "长" * (ratings.MAX_COMMENT + 1))


async def test_old_binary_ratings_are_migrated_and_stay_readable(tmp_path: Path) -> None:
    # A version-1 store, as the bot wrote it before the five levels.
    path = tmp_path / "bot.sqlite3"
    store = await Store(path).open()
    conversation = await store.create_conversation("webwidget", "v-old")
    [answer] = await store.add_outgoing(conversation.id, [OutgoingDraft("答", entry=ENTRY)])
    await store.close()
    db = sqlite3.connect(path)
    db.executescript(
        "DROP TABLE ratings; CREATE TABLE ratings (id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id TEXT NOT "
        "NULL, channel TEXT NOT NULL, message_seq INTEGER, entry_id TEXT, entry_title TEXT, value TEXT NOT NULL, "
        "comment TEXT, created_at REAL NOT NULL); PRAGMA user_version=1; "
        "DROP TABLE schema_version;"  # a version-1 store predates the migrations' table (bot/schema.py)
    )
    db.execute(
        "INSERT INTO ratings (conversation_id, channel, message_seq, entry_id, value, created_at) VALUES "
        "(?, 'webwidget', ?, 'guide.x', 'bad', 1.0), (?, 'webwidget', NULL, 'guide.y', 'good', 2.0)",
        (conversation.id, answer.seq, conversation.id),
    )
    db.execute("UPDATE messages SET rating = 'bad' WHERE seq = ?", (answer.seq,))
    db.commit()
    db.close()

    store = await Store(path).open()
    try:
        rows = await store.rows("SELECT value, level, target, due_at FROM ratings ORDER BY id")
        assert [(r["value"], r["level"], r["target"]) for r in rows] == [("bad", 2, "answer"), ("good", 4, "answer")]
        assert rows[0]["due_at"] > time.time() and rows[1]["due_at"] is None
        assert (await store.get_message(answer.seq)).rating == "2"
        assert (await store.rows("PRAGMA user_version"))[0]["user_version"] == 2
    finally:
        await store.close()
    # Opening again changes nothing.
    store = await Store(path).open()
    assert len(await store.rows("SELECT * FROM ratings")) == 2
    await store.close()


async def test_a_rating_is_a_state_on_the_answer_not_a_message(start_bot: StartBot, connect_widget: ConnectWidget):
    # Rasa is down here: a rating must not need it (it is not a message to the assistant).
    bot = await start_bot(rasa_url=nobody_listening())
    client = await connect_widget(bot)
    welcome = await client.hello()
    assert welcome["rating"]["levels"][0] == [5, "非常满意"] and welcome["rating"]["low"] == 2
    conversation = await bot.store.get_conversation(client.conversation_id)
    buttons = (Button("下一步", "/next_step"),)
    [answer] = await bot.store.add_outgoing(conversation.id, [OutgoingDraft("第一步：登录", Kind.TEXT, buttons, ENTRY)])
    before = await bot.store.rows("SELECT COUNT(*) AS n FROM messages")

    ack = await client.rate(answer.seq, 1, reason="wrong", comment="电话13812345678打不通")
    assert ack["type"] == "ack" and ack["seq"] == answer.seq
    assert ack["message"]["rating"] == "1"
    assert ack["message"]["buttons"] == [{"title": "下一步", "payload": "/next_step"}]
    assert await bot.store.rows("SELECT COUNT(*) AS n FROM messages") == before  # nothing said in the chat
    [row] = await bot.store.rows("SELECT * FROM ratings")
    assert (row["level"], row["value"], row["reason"], row["entry_id"], row["target"]) == (
        1,
        "bad",
        "wrong",
        "guide.x",
        "answer",
    )
    assert "13812345678" not in row["comment"] and "138****5678" in row["comment"]
    days = bot.config.rating_follow_up_days
    assert row["due_at"] == pytest.approx(row["created_at"] + days * 86400, abs=5)

    # Changing one's mind updates the same rating; a good level has no deadline.
    ack = await client.rate(answer.seq, 4)
    [row] = await bot.store.rows("SELECT * FROM ratings")
    assert (row["level"], row["reason"], row["comment"], row["due_at"]) == (4, None, None, None)
    assert (await bot.store.get_message(answer.seq)).rating == "4"

    # What cannot be rated is refused with a reason.
    assert (await client.rate(answer.seq, 9))["code"] == "bad_rating"
    assert (await client.rate(answer.seq, 2, reason="nonsense"))["code"] == "bad_reason"
    [notice] = await bot.store.add_outgoing(conversation.id, [OutgoingDraft("提示", Kind.NOTICE)])
    assert (await client.rate(notice.seq, 5))["code"] == "not_ratable"
