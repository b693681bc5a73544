"""Staff worklists through the real bot service: unanswered questions (from the real assistant's
`unresolved` payloads), 差评 closed with outcomes, helper drafts, one-click similar questions."""

from __future__ import annotations

import json

import pytest
from staff_helpers import RunningBot

from bot.conversations import Conversation
from bot.store import Store
from bot.worklists import group_questions

TARGET = "guide.senior-preferential-card"
WORDING = "夕阳红卡片遗失补发"


async def ask(bot: RunningBot, conversation: Conversation, text: str, payload: str | None = None) -> list:
    receipt = await bot.service.receive(conversation, text, payload=payload, want_outcome=True)
    outcome = await receipt.outcome
    assert outcome.status == "answered", outcome
    return outcome.replies


async def fake_turn(store: Store, conversation: Conversation, text: str, reason: str, choices=()) -> None:
    """A stored citizen message and the `unresolved` turn the assistant would have reported for it."""
    message, _ = await store.add_incoming(conversation.id, text)
    await store.track_questions(conversation, message, [{"reason": reason, "choices": list(choices)}], [])


def test_grouping_puts_similar_wordings_together_and_keeps_others_apart():
    questions = [
        {
            "id": 1,
            "text": "社保卡丢了怎么办",
            "reason": "not_found",
            "choices": [],
            "conversation_id": "a",
            "created_at": 1,
        },
        {
            "id": 2,
            "text": "社保卡丢了咋办？",
            "reason": "not_found",
            "choices": [],
            "conversation_id": "b",
            "created_at": 2,
        },
        {
            "id": 3,
            "text": "社会保障卡丢了怎么办",
            "reason": "clarify",
            "choices": ["x"],
            "conversation_id": "c",
            "created_at": 3,
        },
        {
            "id": 4,
            "text": "我家的猫丢了怎么找回",
            "reason": "not_found",
            "choices": [],
            "conversation_id": "d",
            "created_at": 4,
        },
        {
            "id": 5,
            "text": "社保卡 丢了怎么办！",
            "reason": "not_found",
            "choices": [],
            "conversation_id": "a",
            "created_at": 5,
        },
    ]
    groups = group_questions(questions)
    assert [g["count"] for g in groups] == [4, 1]
    first = groups[0]
    assert {i["id"] for i in first["items"]} == {1, 2, 3, 5}
    assert first["label"] in ("社保卡丢了怎么办", "社保卡丢了咋办？")
    assert first["conversations"] == ["a", "b", "c"]
    assert first["reasons"] == {"not_found": 3, "clarify": 1} and first["choices"] == ["x"]
    assert groups[1]["items"][0]["text"] == "我家的猫丢了怎么找回"


@pytest.mark.rasa
async def test_fallbacks_and_open_clarifications_reach_the_worklist(start_bot, staff, rasa_stack):
    bot = await start_bot(rasa_url=rasa_stack.rasa_url, action_url=rasa_stack.action_url)
    editor = await staff(bot, "编辑小王")

    # A clarifying question the citizen never answers: stays open.
    left = await bot.service.new_conversation("rest", "citizen-left")
    replies = await ask(bot, left, "营业执照")
    assert replies[0].text.startswith("您想问的是")
    # The same question, then a choice: resolved by the answer for that choice.
    chose = await bot.service.new_conversation("rest", "citizen-chose")
    replies = await ask(bot, chose, "营业执照")
    choice = next(b for b in replies[0].buttons if b.payload.startswith("/choose_entry"))
    await ask(bot, chose, choice.title, payload=choice.payload)
    # A question the assistant cannot place, with a phone number in it.
    lost = await bot.service.new_conversation("rest", "citizen-lost")
    await ask(bot, lost, "我要办火星移民证，联系电话13812345678")

    rows = await bot.store.rows("SELECT conversation_id, reason, choices, resolved_at, text FROM unresolved_questions")
    by_conversation = {row["conversation_id"]: row for row in rows}
    assert by_conversation[left.id]["reason"] == "clarify" and by_conversation[left.id]["resolved_at"] is None
    assert len(json.loads(by_conversation[left.id]["choices"])) >= 2
    assert by_conversation[chose.id]["resolved_at"] is not None
    assert by_conversation[lost.id]["reason"] == "not_found"
    assert "13812345678" not in by_conversation[lost.id]["text"] and "138****5678" in by_conversation[lost.id]["text"]

    status, listing = await editor.get("/api/kb/worklists/unanswered")
    assert status == 200
    conversations = [c for g in listing["groups"] for c in g["conversations"]]
    assert left.id in conversations and lost.id in conversations and chose.id not in conversations

    # The conversation behind an item, personal numbers masked.
    status, transcript = await editor.get(f"/api/kb/conversations/{lost.id}")
    assert status == 200
    texts = [m["text"] for m in transcript["messages"]]
    assert "我要办火星移民证，联系电话138****5678" in texts
    assert not any("13812345678" in t for t in texts)


async def test_bad_ratings_are_closed_with_outcomes_and_the_follow_up_rate_is_reported(start_bot, staff):
    bot = await start_bot()
    editor = await staff(bot, "编辑小李")
    conversation = await bot.service.new_conversation("widget", "visitor-1")
    # An old binary 差评, 非常不满意 and 不满意 are 差评; 基本满意 and an old 好评 are not.
    for entry_id, value in (("qa.a", "bad"), ("qa.b", 1), ("qa.c", 2)):
        await bot.store.add_rating(
            conversation, value, message_seq=None, entry_id=entry_id, entry_title=entry_id, comment="没用 13812345678"
        )
    await bot.store.add_rating(conversation, "good", message_seq=None, entry_id="qa.d", entry_title="d", comment=None)
    await bot.store.add_rating(conversation, 3, message_seq=None, entry_id="qa.e", entry_title="e", comment=None)

    status, listing = await editor.get("/api/kb/worklists/ratings")
    assert status == 200 and len(listing["items"]) == 3
    assert all("13812345678" not in (item["comment"] or "") for item in listing["items"])
    status, report = await editor.get("/api/kb/worklists/report")
    assert report == {
        "bad_ratings": 3,
        "closed": 0,
        "open": 3,
        "on_time": 0,
        "overdue": 0,
        "follow_up_rate": 0.0,
        "by_outcome": {},
    }
    assert {item["level_label"] for item in listing["items"]} == {"不满意", "非常不满意"}
    assert all(item["due_at"] > item["created_at"] and not item["overdue"] for item in listing["items"])

    ids = sorted(item["id"] for item in listing["items"])
    status, closed = await editor.post(
        "/api/kb/worklists/close", {"kind": "rating", "ids": ids[:2], "outcome": "no_action_needed", "note": "答案正确"}
    )
    assert status == 200 and closed["closed"] == ids[:2]
    # Closing again is refused and changes nothing; an unknown outcome too.
    status, body = await editor.post(
        "/api/kb/worklists/close", {"kind": "rating", "ids": ids[:1], "outcome": "duplicate"}
    )
    assert status == 409, body
    status, body = await editor.post(
        "/api/kb/worklists/close", {"kind": "rating", "ids": ids[2:], "outcome": "whatever"}
    )
    assert status == 400, body

    status, report = await editor.get("/api/kb/worklists/report")
    assert report["closed"] == 2 and report["open"] == 1
    assert report["follow_up_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["by_outcome"] == {"no_action_needed": 2} and report["on_time"] == 2
    [row] = await bot.store.rows("SELECT actor, outcome, note FROM worklist_outcomes WHERE item_id = ?", ids[0])
    assert row == {"actor": "编辑小李", "outcome": "no_action_needed", "note": "答案正确"}
    status, listing = await editor.get("/api/kb/worklists/ratings")
    assert [item["id"] for item in listing["items"]] == ids[2:]
    status, listing = await editor.get("/api/kb/worklists/ratings?closed=1")
    assert sorted(item["id"] for item in listing["items"]) == ids[:2]


async def test_adding_a_wording_as_similar_question_improves_search_at_once(start_bot, staff):
    bot = await start_bot()
    editor = await staff(bot, "编辑小赵")
    conversation = await bot.service.new_conversation("widget", "visitor-2")
    await fake_turn(bot.store, conversation, WORDING, "not_found")
    status, before = await editor.get(f"/api/kb/worklists/entries?q={WORDING}")
    assert status == 200 and (not before["entries"] or before["entries"][0]["id"] != TARGET)
    [group] = (await editor.get("/api/kb/worklists/unanswered"))[1]["groups"]
    ids = [item["id"] for item in group["items"]]

    status, added = await editor.post(
        "/api/kb/worklists/add-question", {"kind": "question", "ids": ids, "entry_id": TARGET, "text": WORDING}
    )
    assert status == 200, added
    assert added["closed"] == ids and added["version"] >= 2

    status, after = await editor.get(f"/api/kb/worklists/entries?q={WORDING}")
    assert after["entries"][0]["id"] == TARGET
    status, listing = await editor.get("/api/kb/worklists/unanswered")
    assert listing["groups"] == []
    [row] = await bot.store.rows("SELECT outcome, entry_id, actor FROM worklist_outcomes WHERE item_kind = 'question'")
    assert row == {"outcome": "added_question", "entry_id": TARGET, "actor": "编辑小赵"}


async def test_adding_to_a_missing_entry_changes_nothing(start_bot, staff):
    bot = await start_bot()
    editor = await staff(bot, "编辑小钱")
    conversation = await bot.service.new_conversation("widget", "visitor-3")
    await fake_turn(bot.store, conversation, "某个问题", "not_found")
    [group] = (await editor.get("/api/kb/worklists/unanswered"))[1]["groups"]
    ids = [item["id"] for item in group["items"]]
    status, body = await editor.post(
        "/api/kb/worklists/add-question", {"kind": "question", "ids": ids, "entry_id": "qa.no-such", "text": "某个问题"}
    )
    assert status == 404, body
    assert await bot.store.rows("SELECT * FROM worklist_outcomes") == []


async def test_helper_drafts_are_listed_and_closed(start_bot, staff):
    bot = await start_bot()
    editor = await staff(bot, "编辑小孙")
    await staff(bot, "帮办小周", "helper")
    [helper] = await bot.store.rows("SELECT id FROM helpers WHERE name = '帮办小周'")
    bot.store.db.execute(
        "INSERT INTO kb_drafts (question, answer, conversation_id, helper_id, created_at) VALUES (?, ?, ?, ?, 1)",
        ("老年证能代办吗", "可以，带上老人身份证。", "conv-1", helper["id"]),
    )
    status, listing = await editor.get("/api/kb/worklists/drafts")
    [item] = listing["items"]
    assert item["question"] == "老年证能代办吗" and item["helper"] == "帮办小周"
    status, _ = await editor.post(
        "/api/kb/worklists/close", {"kind": "draft", "ids": [item["id"]], "outcome": "new_draft"}
    )
    assert status == 200
    assert (await editor.get("/api/kb/worklists/drafts"))[1]["items"] == []
    [row] = await bot.store.rows("SELECT status FROM kb_drafts")
    assert row["status"] == "accepted"


async def test_worklists_need_a_curation_role(start_bot, staff):
    bot = await start_bot()
    helper = await staff(bot, "帮办小吴", "helper")
    for path in ("/api/kb/worklists/unanswered", "/api/kb/worklists/ratings", "/api/kb/worklists/report"):
        assert (await helper.get(path))[0] == 403
    status, _ = await helper.post("/api/kb/worklists/close", {"kind": "rating", "ids": [1], "outcome": "duplicate"})
    assert status == 403
