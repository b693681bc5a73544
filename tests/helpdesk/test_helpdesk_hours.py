"""Service hours: parsing, and a handoff outside them becomes a message the helpers answer later."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from desk_helpers import add_helper

from bot import helpdesk, texts
from bot.config import BotConfig, ConfigError
from bot.conversations import State
from bot.service_hours import HoursError, ServiceHours

ZONE = "Asia/Shanghai"


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(ZONE)).timestamp()


def test_parse_and_check_hours():
    hours = ServiceHours.parse("1-5 09:00-12:00; 1-5 13:30-17:00; 6 09:00-12:00", ZONE)
    assert hours.open_at(at("2026-11-26 10:00"))  # a Thursday
    assert not hours.open_at(at("2026-11-26 12:30"))
    assert hours.open_at(at("2026-11-28 11:59")) and not hours.open_at(at("2026-11-29 10:00"))  # Sat / Sun
    assert hours.label().startswith("周一至周五 09:00-12:00")
    assert ServiceHours.parse("always", ZONE).open_at(at("2026-11-29 03:00"))
    for bad in ("mon-fri 9-5", "1-5 17:00-09:00", "5-1 09:00-17:00", "1 25:00-26:00"):
        with pytest.raises(HoursError):
            ServiceHours.parse(bad, ZONE)
    with pytest.raises(ConfigError):
        BotConfig(helpdesk_hours="whenever").check()
    with pytest.raises(ConfigError):
        BotConfig(helpdesk_timezone="Mars/Olympus").check()


def closed_now() -> str:
    """A one-hour window that starts two hours from now: the desk is closed at this moment."""
    start = (datetime.now(ZoneInfo(ZONE)).hour + 2) % 24
    return f"1-7 {start:02d}:00-{start:02d}:59"


@pytest.mark.rasa
async def test_off_hours_message_answered_later_and_seen_on_return(start_desk_bot, helpers, rasa_stack, anonymous):
    hours = closed_now()
    bot = await start_desk_bot(rasa_url=rasa_stack.rasa_url, helpdesk_hours=hours)
    add_helper(bot, "alice")
    ws = await anonymous.ws_connect(bot.url.replace("http", "ws") + "/ws")

    async def frame(kind: str) -> dict:
        while True:
            data = await ws.receive_json(timeout=90)
            if data["type"] == kind:
                return data

    await ws.send_json({"type": "hello", "conversation_id": None, "visitor_id": "visitor-offhours-1"})
    conversation_id = (await frame("welcome"))["conversation_id"]
    await ws.send_json({"type": "message", "client_id": "offhours-0001", "text": "转人工"})
    while True:
        message = (await frame("message"))["message"]
        if message["text"].startswith("现在是非工作时间"):
            break
    # The off-hours notice, then the 留言's receipt number (the ticket the citizen can quote later).
    off_hours = helpdesk.OFF_HOURS.format(hours=ServiceHours.parse(hours, ZONE).label())
    receipt = message["text"].removeprefix(off_hours)
    assert receipt != message["text"] and re.fullmatch(
        re.escape(helpdesk.LEFT_MESSAGE_RECEIPT).replace(re.escape("{receipt}"), r"JY\d{8}-\d{4}"), receipt
    )
    await ws.send_json(
        {"type": "message", "client_id": "offhours-0002", "text": "营业执照怎么变更经营范围，电话13812345678"}
    )
    while (await frame("message"))["message"]["text"] != texts.WAITING_FOR_HELPER:
        pass
    await ws.close()  # the citizen leaves

    alice = await helpers(bot, "alice")
    [item] = (await alice.get("/queue"))[1]["waiting"]
    assert item["conversation_id"] == conversation_id and item["left_off_hours"] is True
    assert (await alice.get("/queue"))[1]["open_now"] is False
    assert (await alice.post(f"/conversations/{conversation_id}/claim"))[0] == 200
    assert (await alice.post(f"/conversations/{conversation_id}/messages", {"text": "可以在网上申请变更登记"}))[
        0
    ] == 200
    assert (await bot.store.get_conversation(conversation_id)).state == State.WITH_HELPER

    # The citizen comes back: the answer is in the history the widget gets.
    ws = await anonymous.ws_connect(bot.url.replace("http", "ws") + "/ws")
    await ws.send_json({"type": "hello", "conversation_id": conversation_id, "visitor_id": "visitor-offhours-1"})
    welcome = await frame("welcome")
    assert welcome["conversation_id"] == conversation_id
    assert "可以在网上申请变更登记" in [m["text"] for m in welcome["history"]]
    await ws.close()
