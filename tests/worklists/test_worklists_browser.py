"""The worklist page in real Chromium: an editor sees grouped unanswered questions, adds a citizen's
wording to an entry with one click, closes a 差评 with an outcome, and opens a prefilled draft."""

from __future__ import annotations

import re
from typing import Any

from staff_helpers import PASSWORD, RunningBot

from bot.conversations import Conversation
from bot.store import Store

TARGET = "guide.senior-preferential-card"
WORDING = "夕阳红卡片遗失补发"


async def unresolved(store: Store, conversation: Conversation, text: str) -> None:
    """A citizen message and the `unresolved` turn the assistant reported for it (as bot.service stores it)."""
    message, _ = await store.add_incoming(conversation.id, text)
    await store.track_questions(conversation, message, [{"reason": "not_found", "choices": []}], [])


async def login(browser: Any, bot: RunningBot, name: str) -> Any:
    page = await (await browser.new_context()).new_page()
    await page.goto(bot.url + "/kb/worklists")
    assert "/helpdesk/login" in page.url
    await page.get_by_label("用户名").fill(name)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name=re.compile("登录")).click()
    await page.wait_for_url(bot.url + "/kb/worklists")  # back where the editor wanted to go
    return page


async def test_editor_works_through_the_lists_in_chromium(start_bot, staff, chromium):
    bot = await start_bot()
    await staff(bot, "编辑小王")  # creates the account
    first = await bot.service.new_conversation("widget", "visitor-a")
    second = await bot.service.new_conversation("widget", "visitor-b")
    await unresolved(bot.store, first, WORDING)
    await unresolved(bot.store, second, WORDING + "？")
    await unresolved(bot.store, second, "<script>alert(1)</script>我家的猫丢了")
    await bot.store.add_rating(
        first, "bad", message_seq=None, entry_id=TARGET, entry_title="老年优待证", comment="不清楚"
    )

    page = await login(chromium, bot, "编辑小王")
    group = page.locator("article.group").filter(has_text=WORDING).first
    await group.wait_for()
    assert await group.locator(".count").text_content() == "2 次"
    # HTML in a citizen's words is shown as text, never run.
    assert await page.locator("article.group h3").filter(has_text="<script>").count() == 1

    # The transcript behind the group.
    await group.locator("a.conversation").first.click()
    await page.locator("#transcript li").filter(has_text=WORDING).first.wait_for()

    # One click: the wording becomes a similar question of the chosen entry.
    await group.get_by_label("搜索条目").fill("老年优待证")
    await group.get_by_role("button", name="搜索").click()
    picker = group.get_by_label("添加到条目")
    await picker.locator(f"option[value='{TARGET}']").wait_for(state="attached")
    await picker.select_option(TARGET)
    await group.get_by_role("button", name="添加为相似问法").click()
    await page.get_by_role("status").filter(has_text="搜索立即生效").wait_for()
    await page.locator("article.group").filter(has_text=WORDING).wait_for(state="detached")
    rows = await bot.store.rows("SELECT outcome, entry_id, actor FROM worklist_outcomes WHERE item_kind = 'question'")
    assert rows == [{"outcome": "added_question", "entry_id": TARGET, "actor": "编辑小王"}] * 2

    # The 差评 list: close with an outcome; the follow-up rate follows.
    await page.get_by_role("button", name="差评").click()
    rating = page.locator("article.rating").first
    await rating.wait_for()
    await rating.get_by_label("处理结果").select_option("no_action_needed")
    await rating.get_by_role("button", name="关闭").click()
    await page.locator("#report").filter(has_text="差评整改率：100.0%").wait_for()

    # 新建草稿 opens the editor with the citizen's words prefilled.
    await page.get_by_role("button", name="未解决的问题").click()
    other = page.locator("article.group").filter(has_text="我家的猫丢了").first
    await other.get_by_role("button", name="新建草稿").click()
    await page.wait_for_url(re.compile(r"/kb/edit\?new=qa"))
    await page.get_by_label("标准问题").first.wait_for()
    assert "我家的猫丢了" in await page.get_by_label("标准问题").first.input_value()
    [row] = await bot.store.rows(
        "SELECT outcome FROM worklist_outcomes WHERE item_kind = 'question' AND outcome = 'new_draft'"
    )
    assert row == {"outcome": "new_draft"}
