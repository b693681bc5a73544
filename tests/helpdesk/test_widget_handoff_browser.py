"""The citizen's side of 在线帮办 in Debian's Chromium: welcome, the one live queue card, the cancel
button while waiting, labelled helper replies, and the unread badge over reloads.

The handoff itself is put in place on the server the way the assistant's `handoff` payload does
(state, handoffs row, the desk's observer), so these tests need no Rasa; the whole cycle with the
real assistant is tests/helpdesk/test_helpdesk_browser.py.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from desk_helpers import PASSWORD, add_helper, nobody_listening, waiting_conversation

from bot import accounts, helpdesk, texts
from bot.conversations import Conversation, State
from connectors.webwidget.welcome import HOT_QUESTIONS

pytestmark = pytest.mark.browser

SHADOW = "document.querySelector('#jsb-widget').shadowRoot"
HANDOFF = {
    "reason": "request_human",
    "service": "guide.individual-business-registration",
    "service_title": "个体工商户设立登记",
    "step": None,
    "summary": "用户要求人工；事项《个体工商户设立登记》",
}


async def open_widget(page: Any, url: str) -> Any:
    await page.goto(url + "/")
    await page.get_by_role("button", name="打开政务服务智能助手").click()
    await page.get_by_label("输入您的问题").wait_for()
    return page.get_by_role("log", name="对话记录")


async def widget_conversation(bot: Any, page: Any) -> Conversation:
    for _ in range(100):
        rows = await bot.store.rows("SELECT id FROM conversations WHERE channel = 'webwidget'")
        if rows:
            conversation = await bot.store.get_conversation(rows[0]["id"])
            assert conversation is not None
            return conversation
        await asyncio.sleep(0.1)
    raise AssertionError("the widget opened no conversation")


async def hand_off(bot: Any, conversation: Conversation) -> None:
    """What bot.service does when the assistant answers with a `handoff` payload."""
    conversation = await bot.store.set_state(conversation.id, State.WAITING_HELPER)
    await bot.store.add_handoff(conversation, HANDOFF)
    await bot.app[helpdesk.HELPDESK].handed_off(conversation)


def past_claims(bot: Any, waits_s: list[float]) -> None:
    """Recent history for the expected wait: handoffs that a helper claimed after `waits_s`."""
    add_helper(bot, "history")
    helper_id = bot.store.db.execute("SELECT id FROM helpers WHERE name = 'history'").fetchone()[0]
    now = time.time()
    for index, wait in enumerate(waits_s):
        created = now - 3600 - index * 600
        cursor = bot.store.db.execute(
            "INSERT INTO handoffs (conversation_id, channel, reason, created_at, resolved_at) "
            "VALUES (?, 'rest', 'request_human', ?, ?)",
            (f"old{index}", created, created + wait + 60),
        )
        bot.store.db.execute(
            "INSERT INTO helpdesk_claims (conversation_id, handoff_id, helper_id, claimed_at, ended_at, ended_by) "
            "VALUES (?, ?, ?, ?, ?, 'helper')",
            (f"old{index}", cursor.lastrowid, helper_id, created + wait, created + wait + 60),
        )


async def test_welcome_on_open_with_hot_questions_hours_and_hotline(start_desk_bot, chromium):
    bot = await start_desk_bot(rasa_url=nobody_listening(), helpdesk_hours="1-5 09:00-17:00")
    page = await (await chromium.new_context()).new_page()
    log = await open_widget(page, bot.url)
    await log.get_by_text("猜你想问").wait_for()
    assert await log.get_by_text("我是济阳区政务服务智能助手", exact=False).count() == 1
    await log.get_by_text("人工帮办服务时间：周一至周五 09:00-17:00").wait_for()
    assert await log.get_by_role("link", name="12345").get_attribute("href") == "tel:12345"
    hot = log.get_by_role("list", name="猜你想问").get_by_role("button")
    assert await hot.all_inner_texts() == list(HOT_QUESTIONS)
    # A hot question is asked like a typed one.
    await hot.first.click()
    await log.locator(".msg.mine").get_by_text(HOT_QUESTIONS[0]).wait_for()
    [row] = await bot.store.rows("SELECT text FROM messages WHERE direction = 'in'")
    assert row["text"] == HOT_QUESTIONS[0]
    # 44 px tap targets for the citizen's buttons.
    for selector in (".hot-question", ".send", ".tool"):
        heights = await page.evaluate(
            f"[...{SHADOW}.querySelectorAll('{selector}')].map(b => b.getBoundingClientRect().height)"
        )
        assert heights and min(heights) >= 44, (selector, heights)


async def test_one_live_queue_card_with_expected_wait_and_cancel_while_waiting(start_desk_bot, chromium):
    bot = await start_desk_bot(rasa_url=nobody_listening())
    past_claims(bot, [240, 360, 600])  # median six minutes
    add_helper(bot, "alice")
    alice = accounts.verify(bot.store.db, "alice", PASSWORD)
    ahead = await waiting_conversation(bot)  # someone already waits (REST app)
    page = await (await chromium.new_context()).new_page()
    log = await open_widget(page, bot.url)
    conversation = await widget_conversation(bot, page)

    await hand_off(bot, conversation)
    card = log.locator(".queue-card")
    await card.get_by_text("您现在排在第 2 位，预计等待约 6 分钟。").wait_for()
    # One handoff message: the queue notice is folded into the card, not another bubble.
    assert await log.get_by_text("排在第", exact=False).count() == 1
    assert await card.get_by_role("link", name="12345").count() == 1

    # The one ahead is taken: the same card now says first place, nothing new in the log.
    bubbles = await log.locator(".msg").count()
    await bot.app[helpdesk.HELPDESK].claim(alice, ahead)
    await card.get_by_text("您现在排在第 1 位", exact=False).wait_for()
    assert await log.locator(".queue-card").count() == 1 and await log.locator(".msg").count() == bubbles

    # Typing while waiting: the cancel button stays live even after newer messages arrived.
    box = page.get_by_label("输入您的问题")
    await box.fill("我再问个别的")
    await box.press("Enter")
    await log.get_by_text(texts.APOLOGY).wait_for()  # the assistant is down here; the queue place stays
    cancel = log.get_by_role("button", name="继续问智能助手（取消排队）")
    assert await cancel.is_enabled()
    await cancel.click()
    await log.get_by_text(texts.BACK_TO_BOT).wait_for()
    await card.wait_for(state="detached")
    assert (await bot.store.get_conversation(conversation.id)).state == State.BOT


async def test_helper_replies_are_labelled_and_announced_as_the_helper(start_desk_bot, chromium):
    bot = await start_desk_bot(rasa_url=nobody_listening())
    add_helper(bot, "王芳")
    helper = accounts.verify(bot.store.db, "王芳", PASSWORD)
    page = await (await chromium.new_context()).new_page()
    log = await open_widget(page, bot.url)
    conversation = await widget_conversation(bot, page)
    await hand_off(bot, conversation)
    desk = bot.app[helpdesk.HELPDESK]
    await desk.claim(helper, conversation.id)
    await log.locator(".queue-card").get_by_text("人工帮办 王芳 正在为您服务").wait_for()
    await desk.send(helper, conversation.id, "您好，我来帮您看看材料。")
    reply = log.locator(".msg.helper").filter(has_text="您好，我来帮您看看材料。")
    await reply.wait_for()
    assert await reply.locator(".who").inner_text() == "人工帮办 · 王芳"
    assert await reply.locator(".sr-only").inner_text() == "人工帮办王芳说："
    # The assistant's own messages are still the assistant's.
    joined = log.locator(".msg").filter(has_text=helpdesk.HELPER_JOINED.format(name="王芳"))
    assert await joined.locator(".sr-only").inner_text() == "系统提示："
    # After a reload the label comes back from the stored history.
    await page.reload()
    await page.get_by_label("输入您的问题").wait_for()  # the panel was open: it opens again
    await log.locator(".msg.helper .who").get_by_text("人工帮办 · 王芳").wait_for()
    await log.get_by_role("button", name="结束人工，继续问智能助手").click()
    await log.get_by_text(texts.BACK_TO_BOT).wait_for()
    assert (await bot.store.get_conversation(conversation.id)).state == State.BOT


async def test_unread_badge_and_open_state_survive_a_reload(start_desk_bot, chromium):
    bot = await start_desk_bot(rasa_url=nobody_listening())
    add_helper(bot, "alice")
    alice = accounts.verify(bot.store.db, "alice", PASSWORD)
    page = await (await chromium.new_context()).new_page()
    log = await open_widget(page, bot.url)
    conversation = await widget_conversation(bot, page)
    await hand_off(bot, conversation)
    desk = bot.app[helpdesk.HELPDESK]
    await desk.claim(alice, conversation.id)
    await log.get_by_text(helpdesk.HELPER_JOINED.format(name="alice")).wait_for()

    # Read with the panel open, then closed and reloaded: nothing unread, the panel stays closed.
    await page.get_by_role("button", name="关闭对话窗口").click()
    await page.reload()
    launcher = page.get_by_role("button", name="打开政务服务智能助手", exact=True)
    await launcher.wait_for()
    badge = f"{SHADOW}.querySelector('.badge')"
    assert await page.evaluate(f"{badge}.hidden") is True
    assert await page.get_by_label("输入您的问题").is_hidden()

    # Two helper messages arrive while closed: the badge says 2, and still 2 after a reload.
    await desk.send(alice, conversation.id, "第一条回复")
    await desk.send(alice, conversation.id, "第二条回复")
    await page.get_by_role("button", name="打开政务服务智能助手（2 条新消息）").wait_for()
    assert await page.evaluate(f"{badge}.textContent") == "2"
    await page.reload()
    await page.get_by_role("button", name="打开政务服务智能助手（2 条新消息）").wait_for()

    # Opened and read: after a reload it opens again by itself, with nothing unread.
    await page.get_by_role("button", name="打开政务服务智能助手（2 条新消息）").click()
    await log.get_by_text("第二条回复").wait_for()
    await page.reload()
    await log.get_by_text("第二条回复").wait_for()
    assert await page.get_by_label("输入您的问题").is_visible()
    await page.get_by_role("button", name="关闭对话窗口").click()
    assert await page.evaluate(f"{badge}.hidden") is True


def closed_now() -> str:
    """A one-hour window two hours from now (Asia/Shanghai): the desk is closed at this moment."""
    start = (datetime.now(ZoneInfo("Asia/Shanghai")).hour + 2) % 24
    return f"1-7 {start:02d}:00-{start:02d}:59"


async def test_off_hours_message_gets_a_receipt_and_the_later_reply_reaches_the_widget(start_desk_bot, chromium):
    bot = await start_desk_bot(rasa_url=nobody_listening(), helpdesk_hours=closed_now())
    add_helper(bot, "alice")
    context = await chromium.new_context()
    page = await context.new_page()
    log = await open_widget(page, bot.url)
    conversation = await widget_conversation(bot, page)
    await hand_off(bot, conversation)

    card = log.locator(".queue-card")
    await card.get_by_text("已为您登记留言").wait_for()
    receipt = (await card.locator(".receipt").inner_text()).removeprefix("留言编号：")
    assert re.fullmatch(r"JY\d{8}-\d{4}", receipt)
    notice = await bot.store.rows("SELECT text FROM messages WHERE text LIKE '%留言编号%'")
    assert receipt in notice[0]["text"]  # other channels (Telegram, REST) get it in the notice
    box = page.get_by_label("输入您的问题")
    await box.fill("营业执照变更要带什么？明天上午我再看")
    await box.press("Enter")
    await log.get_by_text(texts.WAITING_FOR_HELPER).wait_for()
    await page.get_by_role("button", name="关闭对话窗口").click()
    await page.close()  # the citizen leaves

    # Next working day: the helper finds the message by its receipt and answers it.
    helper = await (await chromium.new_context()).new_page()
    await helper.goto(bot.url + "/helpdesk/")
    await helper.get_by_label("用户名").fill("alice")
    await helper.get_by_label("密码").fill(PASSWORD)
    await helper.get_by_role("button", name="登录").click()
    await helper.get_by_text("已连接").wait_for()
    await helper.get_by_label("搜索会话").fill(receipt)
    queue = helper.get_by_role("list", name="排队中的会话")
    await queue.get_by_text(f"留言编号 {receipt}", exact=False).wait_for()
    await queue.get_by_role("button").first.click()
    await helper.get_by_role("button", name="接手").click()
    await helper.get_by_label("回复内容").fill("您好，变更登记带营业执照正本副本和身份证即可。")
    await helper.get_by_label("回复内容").press("Enter")
    for _ in range(100):
        if await bot.store.rows("SELECT seq FROM messages WHERE text LIKE '%正本副本%'"):
            break
        await asyncio.sleep(0.1)

    # The citizen comes back on the same browser: the reply waits as unread, labelled as the helper's.
    page = await context.new_page()
    await page.goto(bot.url + "/")
    launcher = page.get_by_role("button", name=re.compile(r"打开政务服务智能助手（\d+ 条新消息）"))
    await launcher.wait_for()
    await launcher.click()
    reply = page.get_by_role("log", name="对话记录").locator(".msg.helper")
    await reply.get_by_text("正本副本", exact=False).wait_for()
    assert await reply.locator(".who").inner_text() == "人工帮办 · alice"
