"""The helpers' inbox in Debian's Chromium: my conversations first, search and filters, unread
counts, keyboard, the reply box only once claimed, notes, the citizen typing and their earlier
conversations, searchable canned replies, green and red feedback, the login page, layouts and the
opt-in alert.

Conversations are queued on the server the way the assistant's `handoff` payload does (no Rasa
needed); the whole cycle with the real assistant is tests/helpdesk/test_helpdesk_browser.py.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
from desk_helpers import PASSWORD, add_helper, nobody_listening

from bot import accounts, helpdesk
from bot.conversations import Conversation, State

pytestmark = pytest.mark.browser

OK_GREEN = "rgb(11, 90, 54)"
ERROR_RED = "rgb(160, 0, 24)"
# Records desktop notifications instead of showing them (headless Chromium has no desktop).
NOTIFICATION_RECORDER = """
window.__notified = [];
window.Notification = class {
  constructor(title, options) { window.__notified.push({ title, body: (options || {}).body }); }
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
};
"""


async def queued(bot: Any, title: str, *, channel: str = "rest", external_id: str | None = None) -> Conversation:
    """A conversation the assistant handed off about `title`, queued and announced like a real one."""
    conversation = await bot.service.new_conversation(channel, external_id or f"user-{time.time_ns()}", {})
    await bot.store.add_incoming(conversation.id, f"{title}怎么办？转人工")
    conversation = await bot.store.set_state(conversation.id, State.WAITING_HELPER)
    await bot.store.add_handoff(
        conversation,
        {"reason": "request_human", "service": None, "service_title": title, "step": None, "summary": "用户要求人工"},
    )
    await bot.app[helpdesk.HELPDESK].handed_off(conversation)
    return conversation


async def log_in(page: Any, bot: Any, name: str) -> None:
    await page.goto(bot.url + "/helpdesk/")
    await page.get_by_label("用户名").fill(name)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url("**/helpdesk/")
    await page.get_by_text("已连接").wait_for()


def helper(bot: Any, name: str) -> Any:
    add_helper(bot, name)
    return accounts.verify(bot.store.db, name, PASSWORD)


async def test_mine_first_search_filters_unread_keyboard_and_claim(start_desk_bot, chromium):
    bot = await start_desk_bot(rasa_url=nobody_listening())
    alice = helper(bot, "alice")
    desk = bot.app[helpdesk.HELPDESK]
    mine = await queued(bot, "个体工商户设立登记")
    birth = await queued(bot, "出生登记（报户口）", channel="telegram")
    record = await queued(bot, "无犯罪记录证明开具")
    bot.store.db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (time.time() - 1200, record.id))
    await desk.claim(alice, mine.id)

    page = await (await chromium.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await log_in(page, bot, "alice")
    my_list = page.get_by_role("list", name="我的会话")
    queue = page.get_by_role("list", name="排队中的会话")
    await my_list.locator("strong", has_text="个体工商户设立登记").wait_for()
    await queue.locator("strong", has_text="出生登记").wait_for()
    # My conversations come first, above the queue.
    assert (await my_list.bounding_box())["y"] < (await queue.bounding_box())["y"]
    assert await queue.get_by_role("listitem").count() == 2

    # Search and filters narrow the queue.
    await page.get_by_label("搜索会话").fill("出生")
    assert await queue.get_by_role("listitem").count() == 1
    assert "出生登记" in await queue.get_by_role("listitem").inner_text()
    await page.get_by_label("搜索会话").fill("")
    await page.get_by_label("按渠道筛选").select_option("telegram")
    assert await queue.get_by_role("listitem").count() == 1
    assert "出生登记" in await queue.get_by_role("listitem").inner_text()
    await page.get_by_label("按渠道筛选").select_option("")
    await page.get_by_label("按等待时间筛选").select_option("900")
    assert await queue.get_by_role("listitem").count() == 1
    assert "无犯罪记录" in await queue.get_by_role("listitem").inner_text()
    await page.get_by_label("按等待时间筛选").select_option("0")
    await page.get_by_label("按事项筛选").select_option("出生登记（报户口）")
    assert await queue.get_by_role("listitem").count() == 1
    await page.get_by_label("按事项筛选").select_option("")

    # A citizen message in my conversation while another is open: an unread count on its card.
    await bot.service.receive(await bot.store.get_conversation(mine.id), "我还有个问题")
    await my_list.get_by_label("1 条未读").wait_for()
    assert await page.title() == "(1) 在线帮办 · 济时办"

    # Keyboard only: Tab reaches the card, Enter opens it; the unread count goes.
    card = my_list.get_by_role("button").filter(has_text="个体工商户设立登记")
    await card.focus()
    await page.keyboard.press("Enter")
    await page.get_by_role("log", name="会话记录").get_by_text("我还有个问题").wait_for()
    await my_list.get_by_label("1 条未读").wait_for(state="detached")
    assert await page.get_by_label("回复内容").is_visible()

    # Alt+J / Alt+K: next / previous in the list (the queue is oldest first); a waiting one has
    # no reply box until it is claimed.
    await page.keyboard.press("Alt+J")
    await page.get_by_role("heading", name="无犯罪记录证明开具", exact=False).wait_for()
    await page.keyboard.press("Alt+J")
    await page.get_by_role("heading", name="出生登记", exact=False).wait_for()
    await page.keyboard.press("Alt+K")
    await page.get_by_role("heading", name="无犯罪记录证明开具", exact=False).wait_for()
    await page.keyboard.press("Alt+J")
    await page.get_by_role("heading", name="出生登记", exact=False).wait_for()
    assert await page.get_by_label("回复内容").is_hidden()
    assert await page.get_by_role("button", name="接手").is_visible()
    await page.keyboard.press("Alt+C")  # claim
    await page.get_by_label("回复内容").wait_for()
    feedback = page.locator("#feedback")
    await feedback.get_by_text("已接手", exact=False).wait_for()
    assert await feedback.evaluate("e => getComputedStyle(e).color") == OK_GREEN
    assert (await bot.store.get_conversation(birth.id)).state == State.WITH_HELPER
    # At 1366×768 nothing in the chat column lies under the tools (a trial click checks the hit target).
    for name in ("发送", "添加备注", "结束并交还智能助手"):
        await page.get_by_role("button", name=name, exact=True).click(trial=True, timeout=5000)
    await my_list.locator("strong", has_text="出生登记").wait_for()


async def test_notes_typing_earlier_canned_draft_and_end_feedback(start_desk_bot, chromium):
    bot = await start_desk_bot(rasa_url=nobody_listening())
    helper(bot, "alice")
    helper(bot, "bob")
    citizen = await (await chromium.new_context()).new_page()
    await citizen.goto(bot.url + "/")
    await citizen.get_by_role("button", name="打开政务服务智能助手").click()
    widget_log = citizen.get_by_role("log", name="对话记录")
    await widget_log.get_by_text("猜你想问").wait_for()
    [row] = await bot.store.rows("SELECT id, external_id FROM conversations")
    # The same citizen (visitor) asked something last month.
    before = await bot.service.new_conversation("webwidget", row["external_id"], {})
    await bot.store.add_incoming(before.id, "上个月问过营业执照变更")
    month_ago = time.time() - 30 * 86400
    bot.store.db.execute("UPDATE conversations SET created_at = ? WHERE id = ?", (month_ago, before.id))
    conversation = await bot.store.get_conversation(row["id"])
    conversation = await bot.store.set_state(conversation.id, State.WAITING_HELPER)
    await bot.store.add_handoff(conversation, {"reason": "request_human", "service_title": "营业执照变更登记"})
    await bot.app[helpdesk.HELPDESK].handed_off(conversation)

    page = await (await chromium.new_context()).new_page()
    await log_in(page, bot, "alice")
    await page.get_by_role("list", name="排队中的会话").get_by_role("button").first.click()
    await page.get_by_role("list", name="该群众以前的会话").get_by_text("问：上个月问过营业执照变更").wait_for()

    # A private note: the helpers see it (bob too), the citizen never does.
    bob = await (await chromium.new_context()).new_page()
    await log_in(bob, bot, "bob")
    await bob.get_by_role("list", name="排队中的会话").get_by_role("button").first.click()
    await page.get_by_label("内部备注（群众看不到）").fill("群众说已经来过两次窗口，电话 13812345678")
    await page.get_by_role("button", name="添加备注").click()
    notes = page.get_by_role("list", name="内部备注")
    await notes.get_by_text("已经来过两次窗口", exact=False).wait_for()
    assert "138****5678" in await notes.inner_text()  # masked like every store outside the conversation
    await bob.get_by_role("list", name="内部备注").get_by_text("已经来过两次窗口", exact=False).wait_for()
    assert await widget_log.get_by_text("来过两次窗口", exact=False).count() == 0
    assert not await bot.store.rows("SELECT seq FROM messages WHERE text LIKE '%两次窗口%'")

    # The reply box appears only after 接手.
    assert await page.get_by_label("回复内容").is_hidden()
    await page.get_by_role("button", name="接手").click()
    await page.get_by_label("回复内容").wait_for()

    # The citizen types: the helper sees it.
    await citizen.get_by_label("输入您的问题").press_sequentially("我想问一下", delay=50)
    await page.get_by_text("群众正在输入…").wait_for()

    # Canned replies found by keyword, sent as the helper.
    await page.get_by_label("搜索常用回复").fill("稍等")
    canned = page.get_by_role("list", name="常用回复").get_by_role("button")
    assert await canned.all_inner_texts() == ["请稍等，我帮您查一下。"]
    await canned.click()
    assert await page.get_by_label("回复内容").input_value() == "请稍等，我帮您查一下。"
    await page.get_by_label("回复内容").press("Enter")
    await widget_log.locator(".msg.helper").get_by_text("请稍等，我帮您查一下。").wait_for()

    # 沉淀到知识库 says what it submitted, in green.
    await citizen.get_by_label("输入您的问题").fill("变更登记要多久？")
    await citizen.get_by_label("输入您的问题").press("Enter")
    await page.get_by_role("log", name="会话记录").get_by_text("变更登记要多久？").wait_for()
    await page.get_by_label("回复内容").fill("一般当场办结。")
    await page.get_by_label("回复内容").press("Enter")
    await widget_log.get_by_text("一般当场办结。").wait_for()
    await page.get_by_role("button", name="沉淀到知识库").click()
    feedback = page.locator("#feedback")
    await feedback.get_by_text("已提交知识库草稿", exact=False).wait_for()
    assert "变更登记要多久？" in await feedback.inner_text() and "一般当场办结。" in await feedback.inner_text()
    assert await feedback.evaluate("e => getComputedStyle(e).color") == OK_GREEN
    [draft] = await bot.store.rows("SELECT question, answer FROM kb_drafts")
    assert draft == {"question": "变更登记要多久？", "answer": "一般当场办结。"}

    # Ending: green, never the red "这个会话不在您手上".
    await page.get_by_role("button", name="结束并交还智能助手").click()
    await feedback.get_by_text("已结束", exact=False).wait_for()
    await asyncio.sleep(0.5)  # the console socket's "ended" frame and the queue refresh arrive meanwhile
    assert "不在您手上" not in await feedback.inner_text()
    assert await feedback.evaluate("e => getComputedStyle(e).color") == OK_GREEN
    assert await page.get_by_label("回复内容").is_hidden()
    assert (await bot.store.get_conversation(conversation.id)).state == State.BOT


async def test_login_favicon_layouts_and_opt_in_alert(start_desk_bot, chromium):
    bot = await start_desk_bot(rasa_url=nobody_listening())
    helper(bot, "alice")
    async with aiohttp.ClientSession() as http, http.get(bot.url + "/favicon.ico") as response:
        assert response.status == 200 and (await response.read())[:4] == b"\x00\x00\x01\x00"  # an ICO file

    # The login: styled, errors in Chinese only.
    page = await (await chromium.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await page.goto(bot.url + "/helpdesk/login")
    await page.get_by_role("button", name="登录").click()
    await page.get_by_role("alert").get_by_text("请填写用户名和密码。").wait_for()
    await page.get_by_label("用户名").fill("alice")
    await page.get_by_label("密码").fill("wrong password!")
    await page.get_by_role("button", name="登录").click()
    await page.get_by_role("alert").get_by_text("用户名或密码不对。").wait_for()
    assert "Wrong" not in await page.get_by_role("alert").inner_text()
    card = await page.locator(".login-card").bounding_box()
    assert card["width"] < 500 and card["x"] > 300  # a centred card, not a bare form

    # 1366×768: nothing runs off to the side; the header is one line.
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.get_by_text("已连接").wait_for()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 1366
    assert (await page.locator(".topbar").bounding_box())["height"] < 70

    # Opt in to alerts: a new waiting conversation rings and shows a desktop notification.
    await page.add_init_script(NOTIFICATION_RECORDER)
    await page.reload()
    await page.get_by_text("已连接").wait_for()
    await page.get_by_label("新会话提醒（声音和桌面通知）").check()
    await queued(bot, "居住证申领")
    for _ in range(100):  # (the console's CSP forbids wait_for_function's eval)
        if await page.evaluate("window.__notified.length"):
            break
        await asyncio.sleep(0.1)
    assert await page.evaluate("window.__notified") == [{"title": "新的排队会话", "body": "居住证申领"}]

    # A phone: the title stays on one line (it used to wrap one character per line).
    phone = await (await chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)).new_page()
    await log_in(phone, bot, "alice")
    title = await phone.get_by_role("heading", name="在线帮办", exact=True).bounding_box()
    assert title["height"] < 40  # one line
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390


async def test_auto_assignment_gives_waiting_conversations_to_online_helpers_within_the_cap(start_desk_bot, chromium):
    """HELPDESK_AUTO_ASSIGN: a waiting conversation goes by itself to an online helper whose console
    is open, up to the per-helper cap; ending one brings the next.  A helper who is 离开 or has no
    console open gets none."""
    bot = await start_desk_bot(rasa_url=nobody_listening(), helpdesk_auto_assign=True, helpdesk_auto_assign_cap=1)
    helper(bot, "alice")
    helper(bot, "bob")
    helper(bot, "carol")  # online (her presence from an earlier login) but no console open
    bot.store.db.execute("UPDATE helpers SET presence = 'online' WHERE name = 'carol'")
    page = await (await chromium.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await log_in(page, bot, "alice")
    away = await (await chromium.new_context()).new_page()
    await log_in(away, bot, "bob")
    await away.get_by_label("状态").select_option("away")
    for _ in range(100):
        if (await bot.store.rows("SELECT presence FROM helpers WHERE name = 'bob'"))[0]["presence"] == "away":
            break
        await asyncio.sleep(0.1)

    first = await queued(bot, "个体工商户设立登记")
    second = await queued(bot, "出生登记（报户口）")
    my_list = page.get_by_role("list", name="我的会话")
    queue = page.get_by_role("list", name="排队中的会话")
    await my_list.locator("strong", has_text="个体工商户设立登记").wait_for()
    await queue.locator("strong", has_text="出生登记").wait_for()  # the cap is 1: the next one waits
    assert (await bot.store.get_conversation(first.id)).state == State.WITH_HELPER
    assert (await bot.store.get_conversation(second.id)).state == State.WAITING_HELPER
    owners = await bot.store.rows("SELECT h.name FROM helpdesk_claims k JOIN helpers h ON h.id = k.helper_id")
    assert owners == [{"name": "alice"}]
    joined = await bot.store.rows(
        "SELECT text FROM messages WHERE conversation_id = ? AND text = ?",
        first.id,
        helpdesk.HELPER_JOINED.format(name="alice"),
    )
    assert joined  # the citizen is told, as after a click on 接手

    # Ending the first makes room: the next waiting conversation comes to alice by itself.
    await my_list.get_by_role("button").filter(has_text="个体工商户设立登记").click()
    await page.get_by_role("button", name="结束并交还智能助手").click()
    await my_list.locator("strong", has_text="出生登记").wait_for()
    assert (await bot.store.get_conversation(second.id)).state == State.WITH_HELPER
    owners = await bot.store.rows("SELECT DISTINCT h.name FROM helpdesk_claims k JOIN helpers h ON h.id = k.helper_id")
    assert owners == [{"name": "alice"}]


async def test_without_the_setting_nothing_is_assigned(start_desk_bot, chromium):
    bot = await start_desk_bot(rasa_url=nobody_listening())
    helper(bot, "alice")
    page = await (await chromium.new_context()).new_page()
    await log_in(page, bot, "alice")
    waiting = await queued(bot, "居住证申领")
    await page.get_by_role("list", name="排队中的会话").locator("strong", has_text="居住证申领").wait_for()
    await asyncio.sleep(0.5)
    assert (await bot.store.get_conversation(waiting.id)).state == State.WAITING_HELPER
    assert await page.get_by_role("list", name="我的会话").get_by_text("暂无会话").count() == 1


async def test_first_response_countdown_turns_to_a_warning_when_overdue(start_desk_bot, chromium):
    """Against FIRST_RESPONSE_TARGET, from the claim to the helper's first message (as the analytics
    page counts it): a countdown on my card and over the open conversation, a warning once overdue,
    gone once the helper has answered."""
    bot = await start_desk_bot(rasa_url=nobody_listening(), first_response_target=4)
    alice = helper(bot, "alice")
    desk = bot.app[helpdesk.HELPDESK]
    late = await queued(bot, "无犯罪记录证明开具")
    await desk.claim(alice, late.id)
    bot.store.db.execute(
        "UPDATE helpdesk_claims SET claimed_at = claimed_at - 90 WHERE conversation_id = ?", (late.id,)
    )
    fresh = await queued(bot, "个体工商户设立登记")

    page = await (await chromium.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await log_in(page, bot, "alice")
    my_list = page.get_by_role("list", name="我的会话")
    late_card = my_list.get_by_role("button").filter(has_text="无犯罪记录证明开具")
    await late_card.locator(".countdown.overdue").get_by_text("首次响应已超时 1 分 3", exact=False).wait_for()
    overdue = late_card.locator(".countdown.overdue")
    assert await overdue.evaluate("e => getComputedStyle(e).color") == ERROR_RED

    # Claimed just now: the clock runs down, then warns.
    await page.get_by_role("list", name="排队中的会话").get_by_role("button").filter(has_text="个体工商户").click()
    await page.get_by_role("button", name="接手").click()
    head = page.locator("#countdown")
    await head.get_by_text("首次响应倒计时", exact=False).wait_for()
    assert "overdue" not in (await head.get_attribute("class") or "")
    fresh_card = my_list.get_by_role("button").filter(has_text="个体工商户设立登记")
    await fresh_card.locator(".countdown").get_by_text("首次响应倒计时", exact=False).wait_for()
    await head.get_by_text("首次响应已超时", exact=False).wait_for(timeout=10000)
    assert "overdue" in (await head.get_attribute("class") or "")
    await fresh_card.locator(".countdown.overdue").wait_for()

    # The first answer stops the clock.
    await page.get_by_label("回复内容").fill("您好，我来帮您。")
    await page.get_by_label("回复内容").press("Enter")
    await head.wait_for(state="hidden")
    await fresh_card.locator(".countdown").wait_for(state="hidden")
    assert await late_card.locator(".countdown.overdue").count() == 1  # the other one still waits
    assert fresh.id
