"""While waiting for a helper in service hours, the citizen can still ask the assistant and keeps
their place in the queue; once a helper has the conversation, the assistant is silent.

Everything is real: the bot service, SQLite, the Rasa server and the action server.  Facts the
assistant should answer with are read from the knowledge base, never written here.
"""

from __future__ import annotations

import pytest
from bot_helpers import WidgetClient  # tests/bot is on sys.path (tests/helpdesk/desk_helpers.py)
from desk_helpers import add_helper, waiting_conversation

from bot import helpdesk, texts
from bot.conversations import State, Status
from knowledge_base.loader import load_data_dir

pytestmark = pytest.mark.rasa

GUIDE_ID = "guide.individual-business-registration"
QUESTION = "个体工商户设立登记要带什么材料？"


def guide():
    return next(entry for entry in load_data_dir() if entry.id == GUIDE_ID)


async def test_ask_the_assistant_while_waiting_then_a_helper_takes_over(start_desk_bot, helpers, anonymous, rasa_stack):
    bot = await start_desk_bot(rasa_url=rasa_stack.rasa_url, action_url=rasa_stack.action_url)  # hours: always
    add_helper(bot, "alice")
    ahead = await waiting_conversation(bot, external_id="app-user-ahead")  # someone queued before the citizen

    citizen = WidgetClient(await anonymous.ws_connect(bot.url.replace("http", "ws") + "/ws"))
    await citizen.hello()
    conversation_id = citizen.conversation_id
    ack = await citizen.say("转人工")
    replies = await citizen.answer_to(ack["seq"])
    assert replies[-1]["text"] == texts.HANDOFF_NOTICE
    [position] = await citizen.bot_messages(1)
    assert position["text"] == helpdesk.QUEUE_POSITION.format(position=2)
    queued = await bot.store.get_conversation(conversation_id)
    assert queued.state == State.WAITING_HELPER
    behind = await waiting_conversation(bot, external_id="app-user-behind")  # someone queued after

    alice = await helpers(bot, "alice")
    console = await alice.socket()

    async def queue_order() -> list[str]:
        status, queue = await alice.get("/queue")
        assert status == 200
        return [item["conversation_id"] for item in queue["waiting"]]

    assert await queue_order() == [ahead, conversation_id, behind]

    # A knowledge question while waiting: Rasa answers it, grounded in the knowledge base.
    ack = await citizen.say(QUESTION)
    replies = await citizen.answer_to(ack["seq"])
    [answer] = [r for r in replies if r.get("entry")]
    assert answer["entry"]["id"] == GUIDE_ID
    answered = "\n".join(r["text"] for r in replies if r["kind"] == "text")
    for material in guide().materials:
        assert material.name in answered
    assert (await bot.store.get_message(ack["seq"])).status == Status.ANSWERED
    # Still waiting, at the same place.
    assert await bot.store.get_conversation(conversation_id) == queued
    assert await queue_order() == [ahead, conversation_id, behind]

    # Asking for a person again does not queue again: the citizen is told where they are.
    ack = await citizen.say("转人工")
    await citizen.answer_to(ack["seq"])
    [notice] = await citizen.bot_messages(1)
    assert notice["text"] == helpdesk.ALREADY_QUEUED.format(position=2)
    assert await bot.store.get_conversation(conversation_id) == queued
    assert await queue_order() == [ahead, conversation_id, behind]
    handoffs = await bot.store.rows("SELECT * FROM handoffs WHERE conversation_id = ?", conversation_id)
    assert len(handoffs) == 1
    handoff_events = await bot.store.rows(
        "SELECT * FROM analytics_events WHERE conversation_id = ? AND kind = 'handoff'", conversation_id
    )
    assert len(handoff_events) == 1

    # The helper's transcript shows the turns with the assistant while waiting.
    status, transcript = await alice.get(f"/conversations/{conversation_id}")
    assert status == 200
    texts_seen = [m["text"] for m in transcript["messages"]]
    assert QUESTION in texts_seen and answer["text"] in texts_seen

    # A helper claims: from now on every citizen message goes to her only, never to Rasa.
    assert (await alice.post(f"/conversations/{conversation_id}/claim"))[0] == 200
    assert (await bot.store.get_conversation(conversation_id)).state == State.WITH_HELPER
    ack = await citizen.say("网上申请被退回了怎么办")
    stored = await bot.store.get_message(ack["seq"])
    assert stored.status == Status.FOR_HELPER
    pushed = await console.message_in(conversation_id, "网上申请被退回了怎么办")
    assert pushed["seq"] == ack["seq"]
    assert await bot.store.replies_to(ack["seq"]) == []
    async with anonymous.get(f"{rasa_stack.rasa_url}/conversations/{conversation_id}/tracker") as response:
        tracker = await response.json()
    said_to_rasa = [e.get("text") for e in tracker["events"] if e["event"] == "user"]
    assert QUESTION in said_to_rasa and "网上申请被退回了怎么办" not in said_to_rasa
