"""The whole 在线帮办 cycle in Debian's Chromium: a citizen in the widget, a helper in the console.

Real parts only: the trained assistant (`rasa_stack`), the bot service, SQLite and two browser
contexts (two separate cookie jars, as two people on two machines).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from desk_helpers import PASSWORD, add_helper

from bot import helpdesk
from bot.conversations import State, Status
from knowledge_base.loader import load_data_dir

pytestmark = [pytest.mark.browser, pytest.mark.rasa]

GUIDE_ID = "guide.individual-business-registration"
QUESTION = "个体工商户设立登记要带什么材料？"
LONG_WAIT = 90_000


async def open_widget(page: Any, url: str) -> Any:
    await page.goto(url + "/")
    await page.get_by_role("button", name="打开政务服务智能助手").click()
    await page.get_by_label("输入您的问题").wait_for()
    return page.get_by_role("log", name="对话记录")


async def ask(page: Any, text: str) -> None:
    box = page.get_by_label("输入您的问题")
    await box.fill(text)
    await box.press("Enter")


async def tracker(rasa_url: str, conversation_id: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{rasa_url}/conversations/{conversation_id}/tracker") as response:
            return await response.json()


async def next_answer(bot, conversation_id: str, after_seq: int) -> dict[str, Any]:
    """The first answer taken from the KB after `after_seq` (waits for Rasa, bounded)."""
    for _ in range(900):
        rows = await bot.store.rows(
            "SELECT seq FROM messages WHERE conversation_id = ? AND seq > ? AND entry IS NOT NULL ORDER BY seq",
            conversation_id,
            after_seq,
        )
        if rows:
            return (await bot.store.get_message(rows[0]["seq"])).to_json()
        await asyncio.sleep(0.1)
    raise AssertionError("no answer from the assistant")


async def test_request_queue_claim_chat_hand_back_and_the_bot_resumes(start_desk_bot, chromium, rasa_stack):
    bot = await start_desk_bot(rasa_url=rasa_stack.rasa_url, rasa_token=None)
    add_helper(bot, "alice")
    citizen = await (await chromium.new_context()).new_page()
    helper = await (await chromium.new_context()).new_page()

    # The citizen asks about a service, then for a person: told the queue position.
    log = await open_widget(citizen, bot.url)
    await ask(citizen, QUESTION)
    first_material = next(e for e in load_data_dir() if e.id == GUIDE_ID).materials[0].name
    await log.get_by_text(first_material, exact=False).first.wait_for(timeout=LONG_WAIT)
    await ask(citizen, "转人工")
    await log.get_by_text("您现在排在第 1 位", exact=False).wait_for(timeout=LONG_WAIT)
    [conversation] = [c for c in await bot.store.rows("SELECT * FROM conversations")]
    conversation_id = conversation["id"]
    assert conversation["state"] == State.WAITING_HELPER.value

    # The helper: the console sends anonymous visitors to the login page.
    await helper.goto(bot.url + "/helpdesk/")
    assert helper.url.endswith("/helpdesk/login")
    await helper.get_by_label("用户名").fill("alice")
    await helper.get_by_label("密码").fill(PASSWORD)
    await helper.get_by_role("button", name="登录").click()
    await helper.wait_for_url("**/helpdesk/")
    queue = helper.get_by_role("list", name="排队中的会话")
    item = queue.get_by_role("listitem").filter(has_text="个体工商户设立登记")
    await item.wait_for()
    assert "要求人工" in await item.text_content()
    await item.click()
    transcript = helper.get_by_role("log", name="会话记录")
    await transcript.get_by_text(QUESTION, exact=True).wait_for()  # the bot's part of the conversation is there too
    await helper.get_by_role("button", name="接手").click()
    await log.get_by_text(helpdesk.HELPER_JOINED.format(name="alice")).wait_for()
    assert (await bot.store.get_conversation(conversation_id)).state == State.WITH_HELPER

    # Live chat both ways; the citizen's words go to the helper, never to Rasa.
    await ask(citizen, "我的材料里缺房产证明怎么办")
    await transcript.get_by_text("我的材料里缺房产证明怎么办").wait_for()
    reply_box = helper.get_by_label("回复内容")
    await reply_box.fill("可以用租赁合同代替，带原件即可。")
    await reply_box.press("Enter")
    await log.get_by_text("可以用租赁合同代替，带原件即可。").wait_for()
    [stored] = await bot.store.rows("SELECT seq, status FROM messages WHERE text = ?", "我的材料里缺房产证明怎么办")
    assert stored["status"] == Status.FOR_HELPER.value
    said_to_rasa = [e.get("text") for e in (await tracker(rasa_stack.rasa_url, conversation_id))["events"]]
    assert "我的材料里缺房产证明怎么办" not in said_to_rasa and "转人工" in said_to_rasa

    # End: Rasa is told (handoff over, same service), the citizen rates the helper.
    await helper.get_by_role("button", name="结束并交还智能助手").click()
    await log.get_by_text(helpdesk.HELPER_ENDED).wait_for()
    slots = (await tracker(rasa_stack.rasa_url, conversation_id))["slots"]
    assert slots["handoff_active"] is False and slots["service_id"] == GUIDE_ID
    await citizen.get_by_role("button", name="满意：这次人工帮办", exact=True).click()
    await log.get_by_text("已评价：满意").wait_for()
    for _ in range(100):
        [claim] = await bot.store.rows("SELECT * FROM helpdesk_claims")
        if claim["rating"]:
            break
        await asyncio.sleep(0.1)
    assert claim["rating"] == "good" and claim["ended_by"] == "helper"

    # The assistant answers again, with the service still in context and without repeating the handoff.
    [last] = await bot.store.rows("SELECT MAX(seq) AS seq FROM messages")
    await ask(citizen, "那要多少钱？")
    answer = await next_answer(bot, conversation_id, last["seq"])
    assert answer["entry"]["id"] == GUIDE_ID and answer["entry"]["element"] == "fee"
    await log.get_by_text(answer["text"].splitlines()[0], exact=False).first.wait_for()
    assert (await bot.store.get_conversation(conversation_id)).state == State.BOT
    # Nothing was injected as HTML on either side (textContent only).
    assert await helper.evaluate("document.querySelectorAll('#transcript script, #transcript img').length") == 0
