"""The 好差评 loop in real Chromium: a citizen rates an answer 非常不满意 with a reason in the widget
(a state on the message: no chat bubble, the walkthrough's buttons stay live, 44 px targets); the
差评 becomes a worklist item with a deadline that a reviewer closes with 已整改; the rate follows."""

from __future__ import annotations

import json
import re
from typing import Any

from staff_helpers import PASSWORD

from bot.conversations import Button, Entry, Kind, OutgoingDraft

ENTRY = Entry("guide.senior-preferential-card", "老年人优待证办理", "guide", None, 1)
SHADOW = "document.querySelector('#jsb-widget').shadowRoot"


async def test_very_dissatisfied_with_a_reason_is_followed_up_by_a_reviewer(start_bot, staff, chromium):
    bot = await start_bot()
    await staff(bot, "审核老周", "reviewer")  # creates the account
    citizen = await (await chromium.new_context()).new_page()
    await citizen.goto(bot.url + "/")
    await citizen.get_by_role("button", name="打开政务服务智能助手").click()
    await citizen.get_by_label("输入您的问题").wait_for()
    for _ in range(100):
        stored = await citizen.evaluate("Object.values(localStorage).join('')")
        if "conversationId" in stored and json.loads(stored).get("conversationId"):
            break
        await citizen.wait_for_timeout(100)
    conversation = await bot.store.get_conversation(json.loads(stored)["conversationId"])
    # An answer from the knowledge base in the middle of a walkthrough (as bot.service stores it).
    question, _ = await bot.store.add_incoming(conversation.id, "老年优待证网上怎么办")
    step = OutgoingDraft("第一步：登录爱山东App。", Kind.TEXT, (Button("下一步", "/next_step"),), ENTRY)
    await bot.store.add_outgoing(conversation.id, [step], reply_to=question.seq, answers=question.seq)
    await citizen.reload()  # the panel that was open opens again by itself (issue #17)
    log = citizen.get_by_role("log", name="对话记录")
    await log.get_by_text("第一步：登录爱山东App。").wait_for()
    bubbles = await log.locator(".msg").count()

    levels = citizen.get_by_role("group", name=f"评价回答“{ENTRY.title}”")
    names = [await b.text_content() for b in await levels.get_by_role("button").all()]
    assert names == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    for button in await levels.get_by_role("button").all():
        box = await button.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44

    await levels.get_by_role("button", name=re.compile("^非常不满意")).click()
    await log.get_by_text("已评价：非常不满意").wait_for()
    await citizen.get_by_role("button", name="内容不准确或已过时").click()
    await citizen.get_by_label("补充说明（选填）").fill("地址已经搬了，我打13812345678也没人接")
    await citizen.get_by_role("button", name="提交意见").click()
    await log.get_by_text("已收到您的意见").wait_for()
    assert await log.locator(".msg").count() == bubbles  # no "差评" bubble
    assert await citizen.get_by_role("button", name="下一步").is_enabled()  # the walkthrough goes on
    row: dict[str, Any] = {}
    for _ in range(100):
        rows = await bot.store.rows("SELECT * FROM ratings")
        if rows and rows[0]["reason"]:
            row = rows[0]
            break
        await citizen.wait_for_timeout(100)
    assert (row["level"], row["reason"], row["entry_id"]) == (1, "wrong", ENTRY.id)
    assert "13812345678" not in row["comment"] and row["due_at"] > row["created_at"]

    # The reviewer's worklist: the 差评 with its level, reason and deadline; closed as 已整改.
    page = await (await chromium.new_context()).new_page()
    await page.goto(bot.url + "/kb/worklists")
    await page.get_by_label("用户名").fill("审核老周")
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name=re.compile("登录")).click()
    await page.wait_for_url(bot.url + "/kb/worklists")
    await page.get_by_role("button", name="差评").click()
    item = page.locator("article.rating").first
    await item.wait_for()
    text = await item.inner_text()
    assert "非常不满意" in text and "内容不准确或已过时" in text and "整改期限" in text and ENTRY.title in text
    assert "13812345678" not in text
    await page.locator("#report").filter(has_text="差评整改率：0.0%").wait_for()
    await item.get_by_label("处理结果").select_option("rectified")
    await item.get_by_role("button", name="关闭").click()
    await page.locator("#report").filter(has_text="差评整改率：100.0%").wait_for()
    [outcome] = await bot.store.rows("SELECT outcome, actor FROM worklist_outcomes WHERE item_kind = 'rating'")
    assert outcome == {"outcome": "rectified", "actor": "审核老周"}
