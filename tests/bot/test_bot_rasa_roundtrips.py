"""Full round trips through the real bot service, the real Rasa server and action server.

Facts the assistant should answer with are read from the knowledge base, never written here.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from bot_helpers import ConnectWidget, RunningBot, StartBot, free_port, nobody_listening
from botapi_standin import BotApiStandin
from jsonschema import Draft202012Validator, RefResolver

from bot import texts
from bot.conversations import State, Status
from bot.ratings import LEVELS
from connectors.telegram import READY, WEBHOOK_PATH
from knowledge_base.loader import load_data_dir

pytestmark = pytest.mark.rasa

GUIDE_ID = "guide.individual-business-registration"
QUESTION = "个体工商户设立登记要带什么材料？"


def guide():
    return next(entry for entry in load_data_dir() if entry.id == GUIDE_ID)


@pytest.fixture
async def bot(start_bot: StartBot, rasa_stack) -> RunningBot:
    return await start_bot(rasa_url=rasa_stack.rasa_url, action_url=rasa_stack.action_url)


def answer_text(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r["text"] for r in replies if r["kind"] == "text")


def with_entry(replies: list[dict[str, Any]]) -> dict[str, Any]:
    [answer] = [r for r in replies if r.get("entry")]
    return answer


# -- web widget protocol -----------------------------------------------------------------------


async def test_widget_question_quick_reply_and_rating(bot: RunningBot, connect_widget: ConnectWidget):
    client = await connect_widget(bot)
    await client.hello()
    ack = await client.say(QUESTION)
    replies = await client.answer_to(ack["seq"])
    answer = with_entry(replies)
    assert answer["entry"]["id"] == GUIDE_ID and answer["entry"]["title"]
    for material in guide().materials:
        assert material.name in answer_text(replies)
    buttons = {b["title"]: b["payload"] for r in replies for b in r["buttons"]}
    assert "网上怎么办" in buttons

    # Quick reply: the button's payload goes to Rasa, its title is what the citizen sees.
    ack = await client.say("网上怎么办", payload=buttons["网上怎么办"])
    assert ack["message"]["text"] == "网上怎么办"
    replies = await client.answer_to(ack["seq"])
    steps = guide().online.steps
    assert steps[0] in answer_text(replies)
    assert any(r.get("walkthrough", {}).get("step") == 1 for r in replies)

    # 非常满意 on the first answer: a state on that answer, acked with it; nothing is said in the chat.
    before = await bot.store.rows("SELECT COUNT(*) AS n FROM messages")
    ack = await client.rate(answer["seq"], 5)
    assert ack["type"] == "ack" and ack["seq"] == answer["seq"] and ack["message"]["rating"] == "5"
    ratings = await bot.store.rows("SELECT * FROM ratings")
    assert [(r["level"], r["entry_id"], r["message_seq"]) for r in ratings] == [(5, GUIDE_ID, answer["seq"])]
    assert (await bot.store.get_message(answer["seq"])).rating == "5"
    assert await bot.store.rows("SELECT COUNT(*) AS n FROM messages") == before

    # A reload: history from the server, answers with their entries and ratings.
    again = await connect_widget(bot)
    welcome = await again.hello(client.conversation_id)
    restored = {m["seq"]: m for m in welcome["history"]}
    assert restored[answer["seq"]]["entry"]["id"] == GUIDE_ID and restored[answer["seq"]]["rating"] == "5"


async def test_handoff_waits_for_a_helper_and_the_citizen_can_go_back(
    start_bot: StartBot, connect_widget: ConnectWidget, http: aiohttp.ClientSession, rasa_stack
):
    # Helpers are at work ("always"): while waiting, the citizen can still ask the assistant.
    bot = await start_bot(rasa_url=rasa_stack.rasa_url, action_url=rasa_stack.action_url, helpdesk_hours="always")
    client = await connect_widget(bot)
    await client.hello()
    ack = await client.say("转人工")
    replies = await client.answer_to(ack["seq"])
    notice = replies[-1]
    assert notice["kind"] == "notice" and notice["text"] == texts.HANDOFF_NOTICE
    assert notice["buttons"] == [{"title": texts.BACK_TO_BOT_BUTTON, "payload": texts.BACK_TO_BOT_PAYLOAD}]
    conversation = await bot.store.get_conversation(client.conversation_id)
    assert conversation.state == State.WAITING_HELPER
    [handoff] = await bot.store.rows("SELECT * FROM handoffs")
    assert handoff["reason"] == "request_human" and handoff["conversation_id"] == conversation.id

    # While waiting, the assistant still answers, and the conversation keeps its place in the queue.
    ack = await client.say(QUESTION)
    replies = await client.answer_to(ack["seq"])
    assert with_entry(replies)["entry"]["id"] == GUIDE_ID
    assert texts.WAITING_FOR_HELPER not in [r["text"] for r in replies]
    assert (await bot.store.get_message(ack["seq"])).status == Status.ANSWERED
    assert await bot.store.get_conversation(conversation.id) == conversation  # same state, same queue time
    assert len(await bot.store.rows("SELECT * FROM handoffs")) == 1

    # Back to the assistant: the service tells Rasa the handoff is over (tracker event).
    ack = await client.say(texts.BACK_TO_BOT_BUTTON, payload=texts.BACK_TO_BOT_PAYLOAD)
    [reply] = await client.answer_to(ack["seq"])
    assert reply["text"] == texts.BACK_TO_BOT
    assert (await bot.store.get_conversation(conversation.id)).state == State.BOT
    async with http.get(f"{rasa_stack.rasa_url}/conversations/{conversation.id}/tracker") as response:
        tracker = await response.json()
    assert tracker["slots"]["handoff_active"] is False
    ack = await client.say(QUESTION)
    replies = await client.answer_to(ack["seq"])
    assert with_entry(replies)["entry"]["id"] == GUIDE_ID


# -- REST --------------------------------------------------------------------------------------


async def test_rest_round_trip_matches_the_openapi_document(bot: RunningBot, http: aiohttp.ClientSession):
    async with http.get(f"{bot.url}/api/openapi.json") as response:
        document = await response.json()

    def check(schema: str, value: Any) -> None:
        Draft202012Validator(
            {"$ref": f"#/components/schemas/{schema}"}, resolver=RefResolver.from_schema(document)
        ).validate(value)

    key = bot.api_key("portal")
    body = {"user_id": "app-user-1", "text": QUESTION}
    async with http.post(f"{bot.url}/api/v1/messages", json=body, headers=key) as response:
        assert response.status == 200
        result = await response.json()
    check("SendResult", result)
    assert result["status"] == "answered"
    answer = with_entry(result["replies"])
    assert answer["entry"]["id"] == GUIDE_ID
    for material in guide().materials:
        assert material.name in answer_text(result["replies"])

    url = f"{bot.url}/api/v1/conversations/{result['conversation_id']}/ratings"
    async with http.post(
        url, json={"user_id": "app-user-1", "seq": answer["seq"], "value": 1, "reason": "unclear"}, headers=key
    ) as response:
        assert response.status == 200
        rated = await response.json()
    check("SendResult", rated)
    assert rated["status"] == "answered" and rated["replies"] == [] and rated["message"]["rating"] == "1"
    [rating] = await bot.store.rows("SELECT * FROM ratings")
    assert (rating["value"], rating["level"], rating["reason"], rating["entry_id"], rating["channel"]) == (
        "bad",
        1,
        "unclear",
        GUIDE_ID,
        "rest",
    )

    url = f"{bot.url}/api/v1/conversations/{result['conversation_id']}/messages?user_id=app-user-1"
    async with http.get(url, headers=key) as response:
        history = await response.json()
    check("History", history)
    assert [m["direction"] for m in history["messages"]][:2] == ["in", "out"]


# -- Telegram ----------------------------------------------------------------------------------


@pytest.fixture
async def standin():
    api = await BotApiStandin().start()
    yield api
    await api.stop()


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_telegram_round_trip_with_buttons_and_rating(
    standin: BotApiStandin, start_bot: StartBot, rasa_stack, mode
):
    port = free_port()
    bot = await start_bot(
        port=port,
        rasa_url=rasa_stack.rasa_url,
        telegram_token=standin.token,
        telegram_base_url=standin.base_url,
        telegram_base_file_url=standin.base_file_url,
        telegram_mode=mode,
        telegram_webhook_url=f"http://127.0.0.1:{port}{WEBHOOK_PATH}" if mode == "webhook" else None,
    )
    await asyncio.wait_for(bot.app[READY].wait(), 30)
    chat = 880001
    await standin.user_sends(chat, QUESTION)
    sent = await standin.wait_for(lambda: [s for s in standin.sent_to(chat) if s.buttons] or None, timeout=90)
    answer = next(s for s in standin.sent_to(chat) if any(b["text"] == "非常满意" for b in s.buttons))
    for material in guide().materials:
        assert material.name in answer.text
    assert {b["text"] for b in answer.buttons} >= {"网上怎么办", *LEVELS.values()}
    assert all(len(b["callback_data"].encode()) <= 64 for s in sent for b in s.buttons)

    before = len(standin.sent_to(chat))
    await standin.user_clicks(answer, "网上怎么办")
    [step] = await standin.wait_sent(chat, after=before, timeout=90)
    assert guide().online.steps[0] in step.text
    assert standin.callback_answers  # the spinner on the button was stopped
    # The clicked keyboard lost its quick replies but kept the five rating levels.
    assert {b["text"] for b in answer.buttons} == set(LEVELS.values())

    # A rating is a state on the answer: the click is acknowledged, nothing is sent to the chat.
    before = len(standin.sent_to(chat))
    clicks = len(standin.callback_answers)
    await standin.user_clicks(answer, "基本满意")
    await standin.wait_for(lambda: len(standin.callback_answers) > clicks or None)
    assert standin.callback_answers[-1].get("text") == texts.TELEGRAM_RATED
    await standin.wait_for(lambda: answer.buttons == [] or None)  # nothing left to press twice
    ratings = await bot.store.rows("SELECT level, entry_id, channel FROM ratings")
    assert ratings == [{"level": 3, "entry_id": GUIDE_ID, "channel": "telegram"}]
    assert len(standin.sent_to(chat)) == before


# -- outages -----------------------------------------------------------------------------------


async def test_rasa_killed_mid_conversation_apology_then_answer_after_restart(
    bot: RunningBot, connect_widget: ConnectWidget, rasa_stack
):
    client = await connect_widget(bot)
    await client.hello()
    ack = await client.say(QUESTION)
    assert with_entry(await client.answer_to(ack["seq"]))["entry"]["id"] == GUIDE_ID

    rasa_stack.stop_rasa()
    try:
        ack = await client.say("那要多少钱？")
        [apology] = await client.bot_messages(1)
        assert apology["text"] == texts.APOLOGY and apology["reply_to"] == ack["seq"]
        assert (await bot.store.get_message(ack["seq"])).status == Status.PENDING
        second = await client.say("在哪里办？")
        [queued] = await client.bot_messages(1)
        assert queued["text"] == texts.STILL_QUEUED and queued["reply_to"] == second["seq"]
    finally:
        rasa_stack.start_rasa()

    # The retry loop notices Rasa is back and answers both, in order, pushed to the open socket.
    first_answer = await client.answer_to(ack["seq"], timeout=180)
    assert first_answer[0]["kind"] == "notice" and first_answer[0]["text"].startswith("系统已恢复")
    fee = with_entry(first_answer)
    assert fee["entry"]["id"] == GUIDE_ID and fee["entry"]["element"] == "fee"
    second_answer = await client.answer_to(second["seq"], timeout=180)
    assert with_entry(second_answer)["entry"]["element"] == "location"
    assert await bot.store.pending_count() == 0


async def test_hand_back_while_rasa_is_down_reaches_rasa_before_the_next_question(
    start_bot: StartBot, connect_widget: ConnectWidget, http: aiohttp.ClientSession, rasa_stack
):
    """Rasa must learn the helper is gone (handoff_active=false) even if it was down at hand-back."""
    bot = await start_bot(rasa_url=rasa_stack.rasa_url, action_url=rasa_stack.action_url, helpdesk_hours="always")
    client = await connect_widget(bot)
    await client.hello()
    ack = await client.say("转人工")
    await client.answer_to(ack["seq"])
    conversation_id = client.conversation_id
    assert (await bot.store.get_conversation(conversation_id)).state == State.WAITING_HELPER

    rasa_stack.stop_rasa()
    try:
        ack = await client.say(texts.BACK_TO_BOT_BUTTON, payload=texts.BACK_TO_BOT_PAYLOAD)
        [reply] = await client.answer_to(ack["seq"])
        assert reply["text"] == texts.BACK_TO_BOT
        assert (await bot.store.get_conversation(conversation_id)).state == State.BOT
        assert bot.service.tracker_outbox.held(conversation_id) == 1
    finally:
        rasa_stack.start_rasa()

    ack = await client.say(QUESTION)
    replies = await client.answer_to(ack["seq"], timeout=180)
    assert with_entry(replies)["entry"]["id"] == GUIDE_ID
    assert bot.service.tracker_outbox.held(conversation_id) == 0
    async with http.get(f"{rasa_stack.rasa_url}/conversations/{conversation_id}/tracker") as response:
        tracker = await response.json()
    assert tracker["slots"]["handoff_active"] is False
    # The reset came before the question, as it happened: the question is the last user event.
    events = [(e["event"], e.get("name"), e.get("value"), e.get("text")) for e in tracker["events"]]
    reset = len(events) - 1 - events[::-1].index(("slot", "handoff_active", False, None))
    assert ("user", None, None, QUESTION) in events[reset:]


async def test_messages_survive_a_bot_service_restart(
    start_bot: StartBot, connect_widget: ConnectWidget, rasa_stack, tmp_path
):
    """Stored before forwarding: a message taken while Rasa was unreachable is answered by the next process."""
    database = tmp_path / "restart.sqlite3"
    first = await start_bot(rasa_url=nobody_listening(), db_path=database)
    client = await connect_widget(first)
    await client.hello()
    ack = await client.say(QUESTION)
    await client.bot_messages(1)  # the apology
    await first.stop()

    second = await start_bot(rasa_url=rasa_stack.rasa_url, db_path=database)
    reconnected = await connect_widget(second)
    welcome = await reconnected.hello(client.conversation_id)
    if not any(m.get("reply_to") == ack["seq"] and m.get("entry") for m in welcome["history"]):
        replies = await reconnected.answer_to(ack["seq"], timeout=180)
        assert with_entry(replies)["entry"]["id"] == GUIDE_ID
    history = await second.store.history(client.conversation_id)
    assert any(m.entry and m.entry.id == GUIDE_ID and m.reply_to == ack["seq"] for m in history)
    assert (await second.store.get_message(ack["seq"])).status == Status.ANSWERED
