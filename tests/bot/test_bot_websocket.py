"""The widget websocket under bad input, floods and a Rasa that is not running.

None of these needs a model: Rasa is 'down' (nothing listens on its port), which is itself one of
the situations the service must handle — the citizen gets an apology, the message stays pending.
"""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import pytest
from bot_helpers import ConnectWidget, StartBot, closed_now, nobody_listening

from bot import texts
from bot.conversations import State, Status


@pytest.fixture
async def bot(start_bot: StartBot):
    return await start_bot(rasa_url=nobody_listening())


async def test_non_json_and_unknown_frames_get_clear_errors_and_the_socket_stays_usable(
    bot, connect_widget: ConnectWidget
):
    client = await connect_widget(bot)
    await client.ws.send_str("this is not json {")
    error = await client.next("error")
    assert error["code"] == "bad_json" and "JSON" in error["message"]
    await client.ws.send_str('["a", "list"]')
    assert (await client.next("error"))["code"] == "bad_json"
    await client.ws.send_json({"type": "launch_rockets"})
    error = await client.next("error")
    assert error["code"] == "unknown_type" and "launch_rockets" in error["message"]
    await client.ws.send_json({"type": "message", "client_id": uuid.uuid4().hex, "text": "你好"})
    assert (await client.next("error"))["code"] == "hello_first"
    await client.ws.send_json({"type": "ping"})
    assert (await client.next("pong", "error"))["type"] == "pong"
    welcome = await client.hello()
    assert welcome["state"] == "bot" and welcome["history"] == []


async def test_binary_frames_close_with_1003(bot, connect_widget: ConnectWidget):
    client = await connect_widget(bot)
    await client.ws.send_bytes(b"\x00\x01binary")
    error = await client.next("error")
    assert error["code"] == "binary_frame"
    closed = await client.next("never")
    assert closed["type"] == "_closed" and closed["code"] == 1003


async def test_frames_over_64_kib_close_with_1009(bot, connect_widget: ConnectWidget):
    client = await connect_widget(bot)
    await client.hello()
    await client.ws.send_str('{"type": "message", "text": "' + "字" * 40_000 + '"}')
    closed = await client.next("never")
    assert closed["type"] == "_closed" and closed["code"] == 1009


async def test_messages_over_the_limit_get_a_limit_message_and_are_not_stored(bot, connect_widget: ConnectWidget):
    client = await connect_widget(bot)
    await client.hello()
    client_id = uuid.uuid4().hex
    reply = await client.say("长" * 4001, client_id=client_id)
    assert reply["type"] == "error" and reply["code"] == "too_long" and reply["client_id"] == client_id
    assert "4000" in reply["message"] and "最多" in reply["message"]
    assert await bot.store.history(client.conversation_id) == []
    ok = await client.say("长" * 4000)
    assert ok["type"] == "ack"  # exactly at the limit is fine


async def test_empty_and_malformed_messages(bot, connect_widget: ConnectWidget):
    client = await connect_widget(bot)
    await client.hello()
    assert (await client.say("   "))["code"] == "empty"
    await client.ws.send_json({"type": "message", "client_id": "x", "text": "你好"})
    assert (await client.next("error"))["code"] == "bad_client_id"
    await client.ws.send_json({"type": "message", "client_id": uuid.uuid4().hex, "text": 42})
    assert (await client.next("error"))["code"] == "empty"
    await client.ws.send_json({"type": "rate", "client_id": uuid.uuid4().hex, "seq": "1", "value": "good"})
    assert (await client.next("error"))["code"] == "not_ratable"


async def test_unknown_and_closed_conversation_ids_start_a_new_conversation(bot, connect_widget: ConnectWidget):
    client = await connect_widget(bot)
    welcome = await client.hello("0" * 32)
    assert welcome["conversation_id"] != "0" * 32 and welcome["notice"] == texts.UNKNOWN_CONVERSATION
    other = await connect_widget(bot)
    welcome = await other.hello("'; DROP TABLE messages; --")
    assert welcome["notice"] == texts.UNKNOWN_CONVERSATION
    conversation = await bot.store.get_conversation(welcome["conversation_id"])
    await bot.service.close_conversation(conversation)
    third = await connect_widget(bot)
    welcome = await third.hello(conversation.id)
    assert welcome["conversation_id"] != conversation.id and welcome["notice"] == texts.CLOSED_CONVERSATION


async def test_a_flood_is_limited_per_connection_with_a_clear_message(
    start_bot: StartBot, connect_widget: ConnectWidget
):
    bot = await start_bot(rasa_url=nobody_listening(), ws_rate=0.5, ws_burst=3)
    client = await connect_widget(bot)
    await client.hello()
    ids = [uuid.uuid4().hex for _ in range(8)]
    for client_id in ids:
        await client.ws.send_json({"type": "message", "client_id": client_id, "text": f"第{client_id[:4]}条"})
    outcomes = {}
    while len(outcomes) < len(ids):
        frame = await client.next("ack", "error")
        if frame.get("client_id") in ids:
            outcomes[frame["client_id"]] = frame
    limited = [f for f in outcomes.values() if f["type"] == "error"]
    assert len(limited) >= 4
    assert all(f["code"] == "rate_limited" and f["retry_after"] >= 1 and "稍等" in f["message"] for f in limited)
    # Another connection is not affected by this one's flood.
    other = await connect_widget(bot)
    await other.hello()
    assert (await other.say("我这边正常吗？"))["type"] == "ack"
    # The refused messages were not stored: the widget keeps them and sends them again later.
    stored = await bot.store.history(client.conversation_id)
    assert len([m for m in stored if m.direction.value == "in"]) == len(ids) - len(limited)


async def test_too_many_bad_frames_close_the_connection(bot, connect_widget: ConnectWidget):
    client = await connect_widget(bot)
    for _ in range(40):
        await client.ws.send_str("garbage")
    while True:
        frame = await client.next("error")
        if frame["type"] == "_closed":
            break
    assert frame["code"] == 1008


async def test_resent_messages_are_stored_once(bot, connect_widget: ConnectWidget):
    client = await connect_widget(bot)
    await client.hello()
    first = await client.say("办营业执照要带什么？", client_id="resend-0001")
    again = await client.say("办营业执照要带什么？", client_id="resend-0001")
    assert first["type"] == again["type"] == "ack"
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    assert first["seq"] == again["seq"]
    # After a reconnect (new socket, same conversation) the resend is still recognised.
    reconnected = await connect_widget(bot)
    await reconnected.hello(client.conversation_id)
    third = await reconnected.say("办营业执照要带什么？", client_id="resend-0001")
    assert third["duplicate"] is True
    incoming = [m for m in await bot.store.history(client.conversation_id) if m.direction.value == "in"]
    assert len(incoming) == 1


async def test_rasa_down_gives_an_apology_and_keeps_the_message_pending(bot, connect_widget: ConnectWidget):
    client = await connect_widget(bot)
    await client.hello()
    ack = await client.say("我想办个体工商户营业执照")
    [apology] = await client.bot_messages(1)
    assert apology["kind"] == "notice" and apology["text"] == texts.APOLOGY and apology["reply_to"] == ack["seq"]
    message = await bot.store.get_message(ack["seq"])
    assert message.status == Status.PENDING and message.apologized
    # The next message is acknowledged at once with a short notice, not another wait.
    second = await client.say("还在吗？")
    [queued] = await client.bot_messages(1)
    assert queued["text"] == texts.STILL_QUEUED and queued["reply_to"] == second["seq"]
    assert await bot.store.pending_count() == 2


async def test_history_comes_back_after_a_reconnect_and_other_tabs_see_new_messages(bot, connect_widget: ConnectWidget):
    first_tab = await connect_widget(bot)
    await first_tab.hello()
    second_tab = await connect_widget(bot)
    await second_tab.hello(first_tab.conversation_id)
    ack = await first_tab.say("第一句")
    echoed = await second_tab.next("message")
    assert echoed["message"]["seq"] == ack["seq"] and echoed["message"]["text"] == "第一句"
    await first_tab.bot_messages(1)  # the apology (Rasa is down)
    later = await connect_widget(bot)
    welcome = await later.hello(first_tab.conversation_id)
    assert [m["text"] for m in welcome["history"]] == ["第一句", texts.APOLOGY]
    partial = await connect_widget(bot)
    welcome = await partial.hello(first_tab.conversation_id, after_seq=ack["seq"])
    assert [m["text"] for m in welcome["history"]] == [texts.APOLOGY]


async def test_origins_can_be_restricted(start_bot: StartBot, http: aiohttp.ClientSession):
    bot = await start_bot(rasa_url=nobody_listening(), allowed_origins=("https://www.jiyang.gov.cn",))
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(bot.ws_url, headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403
    ws = await http.ws_connect(bot.ws_url, headers={"Origin": "https://www.jiyang.gov.cn"})
    await ws.close()


async def test_waiting_for_a_helper_keeps_messages_for_the_helper(start_bot: StartBot, connect_widget: ConnectWidget):
    """Off hours a waiting conversation is a left message: kept for helpers, and the citizen can go back.
    (In service hours the assistant keeps answering: tests/helpdesk/test_helpdesk_waiting.py.)"""
    bot = await start_bot(rasa_url=nobody_listening(), helpdesk_hours=closed_now())
    client = await connect_widget(bot)
    await client.hello()
    await bot.store.set_state(client.conversation_id, State.WAITING_HELPER)
    ack = await client.say("我要找人工")
    [notice] = await client.bot_messages(1)
    assert notice["text"] == texts.WAITING_FOR_HELPER
    assert (await bot.store.get_message(ack["seq"])).status == Status.FOR_HELPER
    back = await client.say(texts.BACK_TO_BOT_BUTTON, payload=texts.BACK_TO_BOT_PAYLOAD)
    [notice] = await client.bot_messages(1)
    assert notice["text"] == texts.BACK_TO_BOT and notice["reply_to"] == back["seq"]
    assert (await bot.store.get_conversation(client.conversation_id)).state == State.BOT


async def test_service_stays_healthy_after_all_that(bot, http: aiohttp.ClientSession, connect_widget: ConnectWidget):
    client = await connect_widget(bot)
    for junk in ("{", "null", "[]", '{"type": null}', '{"type": "hello", "after_seq": "x", "conversation_id": 5}'):
        await client.ws.send_str(junk)
    welcome = await client.next("welcome")
    assert welcome["conversation_id"]
    await asyncio.sleep(0)
    async with http.get(f"{bot.url}/healthz") as response:
        assert response.status == 200
        assert (await response.json())["status"] == "ok"
    async with http.get(f"{bot.url}/readyz") as response:
        assert response.status == 503
        assert (await response.json()) == {"status": "not_ready", "rasa": "unreachable"}


async def test_messages_pending_too_long_are_given_up_on_with_a_notice(
    start_bot: StartBot, connect_widget: ConnectWidget
):
    bot = await start_bot(rasa_url=nobody_listening(), pending_max_age=1.0, retry_interval=0.3)
    client = await connect_widget(bot)
    await client.hello()
    ack = await client.say("我想问公积金提取")
    [apology] = await client.bot_messages(1)
    assert apology["text"] == texts.APOLOGY
    [gave_up] = await client.bot_messages(1)
    assert gave_up["reply_to"] == ack["seq"] and "我想问公积金提取" in gave_up["text"] and "转人工" in gave_up["text"]
    assert (await bot.store.get_message(ack["seq"])).status == Status.UNANSWERED
    [event] = await bot.store.rows("SELECT kind, data FROM analytics_events")
    assert event["kind"] == "unanswered" and '"reason":"too_old"' in event["data"]
    assert await bot.store.pending_count() == 0


async def test_typing_frames_never_use_up_the_message_rate_limit(start_bot: StartBot, connect_widget: ConnectWidget):
    """The citizen's "typing" (shown to a helper) is frequent: it must not make a message wait,
    and the service passes on at most one a second."""
    bot = await start_bot(rasa_url=nobody_listening(), ws_rate=0.5, ws_burst=3)
    seen: list[bool] = []

    async def watch(conversation, on: bool) -> None:
        seen.append(on)

    bot.service.citizen_typing = watch
    client = await connect_widget(bot)
    await client.hello()
    for _ in range(20):
        await client.ws.send_json({"type": "typing", "on": True})
    for index in range(2):  # what the hello left of the burst is still there for messages
        assert (await client.say(f"第{index}条"))["type"] == "ack"
    assert seen == [True]  # twenty within a second: one passed on
    assert not [f for f in client.frames if f["type"] == "error"]
