"""Telegram through python-telegram-bot against a local Bot API stand-in (botapi_standin.py).

Here Rasa is not running, so every text gets the apology: that exercises the whole path (update in,
conversation, storage, answer out through sendMessage) and the non-text cases.  The round trips
with the real assistant (answers, buttons, ratings) are in test_bot_rasa_roundtrips.py.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from bot_helpers import RunningBot, StartBot, free_port, nobody_listening
from botapi_standin import BotApiStandin, Sent

from bot import ratings, texts
from bot.conversations import Entry, OutgoingDraft, Status
from connectors.telegram import READY, WEBHOOK_PATH, WEBHOOK_SECRET


@pytest.fixture
async def standin():
    api = await BotApiStandin().start()
    yield api
    await api.stop()


@pytest.fixture
def start_telegram_bot(standin: BotApiStandin, start_bot: StartBot):
    """start_telegram_bot(mode, **settings): the bot service with Telegram pointed at the stand-in.

    Depends on `standin` first, so the stand-in outlives the bot (PTB says goodbye on shutdown).
    """

    async def start(mode: str, **settings) -> RunningBot:
        port = free_port()
        bot = await start_bot(
            port=port,
            telegram_token=standin.token,
            telegram_base_url=standin.base_url,
            telegram_base_file_url=standin.base_file_url,
            telegram_mode=mode,
            telegram_webhook_url=f"http://127.0.0.1:{port}{WEBHOOK_PATH}" if mode == "webhook" else None,
            **settings,
        )
        await asyncio.wait_for(bot.app[READY].wait(), 30)
        return bot

    return start


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_text_goes_through_the_service_and_the_answer_comes_back(start_telegram_bot, standin, mode):
    bot = await start_telegram_bot(mode, rasa_url=nobody_listening())
    if mode == "webhook":
        assert standin.webhook_url.endswith(WEBHOOK_PATH) and standin.webhook_secret
    else:
        assert "deleteWebhook" in standin.calls and not standin.webhook_url
    await standin.user_sends(5001, "你好，我想办营业执照")
    [reply] = await standin.wait_sent(5001)
    assert reply.text == texts.APOLOGY  # Rasa is down in this test
    conversation = await bot.store.find_open_conversation("telegram", "5001")
    [incoming, apology] = await bot.store.history(conversation.id)
    assert incoming.text == "你好，我想办营业执照" and incoming.status == Status.PENDING
    assert apology.text == texts.APOLOGY
    if mode == "webhook":
        assert standin.webhook_deliveries and all(status == 200 for status in standin.webhook_deliveries)


async def test_each_chat_is_its_own_conversation(start_telegram_bot, standin):
    bot = await start_telegram_bot("polling", rasa_url=nobody_listening())
    await standin.user_sends(6001, "我是第一位")
    await standin.user_sends(6002, "我是第二位")
    await standin.wait_sent(6001)
    await standin.wait_sent(6002)
    first = await bot.store.find_open_conversation("telegram", "6001")
    second = await bot.store.find_open_conversation("telegram", "6002")
    assert first.id != second.id
    assert (await bot.store.history(first.id))[0].text == "我是第一位"
    assert (await bot.store.history(second.id))[0].text == "我是第二位"


@pytest.mark.parametrize(
    "content",
    [
        {"photo": [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90, "file_size": 1000}]},
        {
            "sticker": {
                "file_id": "s1",
                "file_unique_id": "su1",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            }
        },
        {"voice": {"file_id": "v1", "file_unique_id": "vu1", "duration": 3, "mime_type": "audio/ogg"}},
        {"location": {"latitude": 36.98, "longitude": 117.17}},
        {"contact": {"phone_number": "13812345678", "first_name": "张"}},
        {"document": {"file_id": "d1", "file_unique_id": "du1", "file_name": "申请表.pdf"}},
        {"text": "/unknown_command", "entities": [{"type": "bot_command", "offset": 0, "length": 16}]},
    ],
    ids=["photo", "sticker", "voice", "location", "contact", "document", "unknown-command"],
)
async def test_non_text_messages_get_a_polite_reply(start_telegram_bot, standin, content):
    bot = await start_telegram_bot("polling", rasa_url=nobody_listening())
    await standin.user_sends_content(7001, **content)
    [reply] = await standin.wait_sent(7001)
    assert reply.text == texts.TELEGRAM_NOT_TEXT
    # Nothing was stored as a citizen message, and the service keeps working.
    assert await bot.store.find_open_conversation("telegram", "7001") is None
    await standin.user_sends(7001, "那我打字问")
    [_, apology] = await standin.wait_sent(7001, count=2)
    assert apology.text == texts.APOLOGY


async def test_edited_messages_get_a_polite_reply(start_telegram_bot, standin):
    await start_telegram_bot("webhook", rasa_url=nobody_listening())
    update = await standin.user_sends(7101, "办户口迁移")
    await standin.wait_sent(7101)
    await standin.user_edits(7101, update["message"]["message_id"], "办户口迁入")
    [_, reply] = await standin.wait_sent(7101, count=2)
    assert reply.text == texts.TELEGRAM_EDITED


async def test_stale_or_forged_buttons_are_answered_not_crashed_on(start_telegram_bot, standin):
    bot = await start_telegram_bot("polling", rasa_url=nobody_listening())
    await standin.user_sends(7201, "你好")
    [apology] = await standin.wait_sent(7201)
    forged = type(apology)(apology.message_id, 7201, apology.text, {"inline_keyboard": []}, apology.raw)
    for data in ("b:999999:0", "r:1:x", "nonsense", f"b:{1}:7"):
        forged.reply_markup = {"inline_keyboard": [[{"text": "按钮", "callback_data": data}]]}
        await standin.user_clicks(forged, "按钮")
    answers = await standin.wait_for(lambda: standin.callback_answers if len(standin.callback_answers) >= 4 else None)
    assert all(answer.get("text") == texts.TELEGRAM_BUTTON_GONE for answer in answers)
    assert (await bot.store.pending_count()) == 1  # only the first text


async def test_new_command_starts_a_new_conversation(start_telegram_bot, standin):
    bot = await start_telegram_bot("polling", rasa_url=nobody_listening())
    await standin.user_sends(7301, "第一次会话")
    await standin.wait_sent(7301)
    first = await bot.store.find_open_conversation("telegram", "7301")
    await standin.user_sends(7301, "/new")
    [_, reply] = await standin.wait_sent(7301, count=2)
    assert reply.text == texts.TELEGRAM_NEW_CONVERSATION
    second = await bot.store.find_open_conversation("telegram", "7301")
    assert second.id != first.id and (await bot.store.get_conversation(first.id)).state.value == "closed"


async def test_webhook_refuses_wrong_secrets_and_garbage(start_telegram_bot, standin, http: aiohttp.ClientSession):
    bot = await start_telegram_bot("webhook", rasa_url=nobody_listening())
    url = f"{bot.url}{WEBHOOK_PATH}"
    async with http.post(url, json={"update_id": 1}, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as response:
        assert response.status == 403
    secret = {"X-Telegram-Bot-Api-Secret-Token": bot.app[WEBHOOK_SECRET]}
    async with http.post(url, data="not json", headers=secret) as response:
        assert response.status == 400
    async with http.post(url, json=["not", "an", "update"], headers=secret) as response:
        assert response.status == 400
    # An update of a kind the bot does not handle is accepted and ignored.
    channel_post = {
        "message_id": 1,
        "date": 1700000000,
        "chat": {"id": -1001, "type": "channel", "title": "济阳发布"},
        "sender_chat": {"id": -1001, "type": "channel", "title": "济阳发布"},
        "text": "频道消息",
    }
    async with http.post(url, json={"update_id": 5, "channel_post": channel_post}, headers=secret) as response:
        assert response.status == 200
    await standin.user_sends(7401, "你好")  # updates are handled in order: once this is answered…
    await standin.wait_sent(7401)
    assert await bot.store.find_open_conversation("telegram", "-1001") is None  # …the post was ignored
    async with http.get(f"{bot.url}/healthz") as response:
        assert response.status == 200


async def test_without_a_token_the_channel_is_off(start_bot: StartBot, http: aiohttp.ClientSession):
    bot = await start_bot(rasa_url=nobody_listening())
    async with http.post(f"{bot.url}{WEBHOOK_PATH}", json={"update_id": 1}) as response:
        assert response.status == 404
    assert bot.service.channels.get("telegram") is None


async def test_telegram_unreachable_at_start_does_not_stop_the_service(
    start_bot: StartBot, http: aiohttp.ClientSession
):
    bot = await start_bot(
        rasa_url=nobody_listening(),
        telegram_token="1:unreachable",
        telegram_base_url=f"{nobody_listening()}/bot",
        telegram_mode="polling",
    )
    async with http.get(f"{bot.url}/healthz") as response:
        assert response.status == 200
    assert not bot.app[READY].is_set()


async def test_html_in_an_answer_reaches_telegram_as_plain_text(start_telegram_bot, standin):
    """Staff may type markup into an entry; Telegram must show it as typed, never interpret it."""
    bot = await start_telegram_bot("polling", rasa_url=nobody_listening())
    await standin.user_sends(7001, "你好")
    await standin.wait_sent(7001)
    conversation = await bot.store.find_open_conversation("telegram", "7001")
    markup = '收费：<b>免费</b> <a href="https://evil.example">点此</a><script>alert(1)</script> & 1 < 2'
    await bot.service.say(conversation, [OutgoingDraft(markup, entry=Entry("qa.test.markup", "测试条目"))])
    [sent] = await standin.wait_sent(7001, after=1)
    assert markup in sent.text and sent.parse_mode is None


async def test_a_low_rating_asks_for_a_reason_with_an_inline_keyboard(start_telegram_bot, standin):
    """不满意 on Telegram: the rating is stored, a keyboard of reasons follows, and the chosen reason
    joins the rating (what the widget's reason form does); the reason keyboard goes once used (#16)."""
    bot = await start_telegram_bot("polling", rasa_url=nobody_listening())
    await standin.user_sends(7002, "你好")
    await standin.wait_sent(7002)
    conversation = await bot.store.find_open_conversation("telegram", "7002")
    answer = OutgoingDraft("带身份证和经营场所证明。", entry=Entry("guide.individual-business-registration", "个体户"))
    await bot.service.say(conversation, [answer])
    [rated] = await standin.wait_sent(7002, after=1)
    await standin.user_clicks(rated, "不满意")
    [ask] = await standin.wait_sent(7002, after=2)
    assert ask.text == texts.TELEGRAM_REASON_ASK
    assert [b["text"] for b in ask.buttons] == list(ratings.REASONS.values())
    reasons_markup = ask.reply_markup
    [row] = await bot.store.rows("SELECT level, reason FROM ratings")
    assert row == {"level": 2, "reason": None}

    await standin.user_clicks(ask, "材料或步骤不全")
    [thanks] = await standin.wait_sent(7002, after=3)
    assert thanks.text == texts.TELEGRAM_REASON_THANKS
    [row] = await bot.store.rows("SELECT level, reason, entry_id FROM ratings")
    assert row == {"level": 2, "reason": "incomplete", "entry_id": "guide.individual-business-registration"}
    await standin.wait_for(lambda: not ask.reply_markup)  # the reasons cannot be sent twice

    # Changed to 满意 after all: a reason pressed later (an old copy of the keyboard) is refused.
    [seq] = [r["message_seq"] for r in await bot.store.rows("SELECT message_seq FROM ratings")]
    await bot.service.rate(conversation, seq, 4)
    old_copy = Sent(ask.message_id, ask.chat_id, ask.text, reasons_markup, ask.raw)
    await standin.user_clicks(old_copy, "其他")
    answers = await standin.wait_for(
        lambda: [a for a in standin.callback_answers if a.get("text") == texts.TELEGRAM_BUTTON_GONE]
    )
    assert answers
    [row] = await bot.store.rows("SELECT level, reason FROM ratings")
    assert row == {"level": 4, "reason": None}
