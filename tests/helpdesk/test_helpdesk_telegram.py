"""A Telegram citizen through the whole 在线帮办 cycle, via the Bot API stand-in (tests/bot/botapi_standin.py).

The stand-in speaks Telegram's real HTTP protocol; python-telegram-bot polls it like the cloud.
Rasa is not running here: everything a helper does must work without it.
"""

from __future__ import annotations

import asyncio

import pytest
from desk_helpers import BotApiStandin, add_helper, nobody_listening, waiting_conversation

from bot import helpdesk, texts
from bot.conversations import State, Status
from connectors.telegram import READY

CHAT = 7001


@pytest.fixture
async def standin():
    api = await BotApiStandin().start()
    yield api
    await api.stop()


async def test_telegram_citizen_claim_chat_end_and_rate(standin, start_desk_bot, helpers):
    bot = await start_desk_bot(
        rasa_url=nobody_listening(),
        telegram_token=standin.token,
        telegram_base_url=standin.base_url,
        telegram_base_file_url=standin.base_file_url,
        telegram_mode="polling",
    )
    await asyncio.wait_for(bot.app[READY].wait(), 30)
    add_helper(bot, "alice")
    conversation_id = await waiting_conversation(bot, channel="telegram", external_id=str(CHAT))
    alice = await helpers(bot, "alice")
    console = await alice.socket()

    assert (await alice.post(f"/conversations/{conversation_id}/claim"))[0] == 200
    [joined] = await standin.wait_sent(CHAT)
    assert joined.text == helpdesk.HELPER_JOINED.format(name="alice")

    # The citizen writes in Telegram: it reaches the helper's console and stays away from Rasa.
    await standin.user_sends(CHAT, "我在网上提交后一直显示审核中")
    pushed = await console.message_in(conversation_id, "我在网上提交后一直显示审核中")
    assert (await bot.store.get_message(pushed["seq"])).status == Status.FOR_HELPER
    assert len(standin.sent_to(CHAT)) == 1  # no apology, no bot answer: the helper has it

    # The helper's answer is pushed with sendMessage.
    assert (await alice.post(f"/conversations/{conversation_id}/messages", {"text": "审核一般需要3个工作日"}))[0] == 200
    [answer] = await standin.wait_sent(CHAT, after=1)
    assert answer.text == "审核一般需要3个工作日"

    # End: the citizen is asked to rate, with inline buttons, and the rating is stored.
    assert (await alice.post(f"/conversations/{conversation_id}/end"))[0] == 200
    [ending] = await standin.wait_sent(CHAT, after=2)
    assert ending.text == helpdesk.HELPER_ENDED
    assert (await bot.store.get_conversation(conversation_id)).state == State.BOT
    await standin.user_clicks(ending, "非常不满意")
    await standin.wait_for(lambda: standin.callback_answers or None)
    await standin.wait_for(lambda: ending.buttons == [] or None)  # nothing left to press twice
    [claim] = await bot.store.rows("SELECT rating, ended_by FROM helpdesk_claims")
    assert claim == {"rating": "bad", "ended_by": "helper"}
    [rating] = await bot.store.rows("SELECT level, target, helper FROM ratings")
    assert rating == {"level": 1, "target": "helper", "helper": "alice"}
    # The rating is not a chat message; a low one is followed only by the question why (#16).
    [ask] = await standin.wait_sent(CHAT, after=3)
    assert ask.text == texts.TELEGRAM_REASON_ASK and len(standin.sent_to(CHAT)) == 4
