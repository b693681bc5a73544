"""axe-core (tests/axe_check.py) on the citizen's widget (normal and 长辈模式, with the welcome and
the handoff card), the helpers' inbox (a claimed conversation open) and the KB console: no serious
or critical violations."""

from __future__ import annotations

from typing import Any

import pytest
from axe_check import blocking_violations
from desk_helpers import PASSWORD, add_helper, nobody_listening

from bot import accounts, helpdesk
from bot.conversations import State

pytestmark = pytest.mark.browser


async def log_in(page: Any, url: str, name: str, path: str) -> None:
    await page.goto(url + path)
    await page.get_by_label("用户名").fill(name)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()


async def test_widget_inbox_and_kb_console_have_no_serious_violations(start_desk_bot, chromium):
    bot = await start_desk_bot(rasa_url=nobody_listening())
    add_helper(bot, "alice")
    add_helper(bot, "管理员", role="admin")
    alice = accounts.verify(bot.store.db, "alice", PASSWORD)
    desk = bot.app[helpdesk.HELPDESK]

    citizen = await (await chromium.new_context(bypass_csp=True)).new_page()
    await citizen.goto(bot.url + "/")
    assert await blocking_violations(citizen) == []  # the portal page with the closed launcher
    await citizen.get_by_role("button", name="打开政务服务智能助手").click()
    log = citizen.get_by_role("log", name="对话记录")
    await log.get_by_text("猜你想问").wait_for()
    [row] = await bot.store.rows("SELECT id FROM conversations")
    conversation = await bot.store.set_state(row["id"], State.WAITING_HELPER)
    await bot.store.add_handoff(conversation, {"reason": "request_human", "service_title": "个体工商户设立登记"})
    await desk.handed_off(conversation)
    await log.locator(".queue-card").wait_for()
    assert await blocking_violations(citizen) == []
    await citizen.get_by_role("button", name="长辈模式").click()
    assert await blocking_violations(citizen) == []

    helper = await (await chromium.new_context(bypass_csp=True)).new_page()
    await helper.goto(bot.url + "/helpdesk/login")
    assert await blocking_violations(helper) == []
    await log_in(helper, bot.url, "alice", "/helpdesk/login")
    await helper.get_by_text("已连接").wait_for()
    await desk.claim(alice, conversation.id)
    # Not answered for two minutes: the overdue first-response warning shows on the card and above the chat.
    bot.store.db.execute("UPDATE helpdesk_claims SET claimed_at = claimed_at - 120")
    await helper.reload()
    await helper.get_by_role("list", name="我的会话").get_by_role("button").first.click()
    await helper.locator("#countdown.overdue").wait_for()
    assert await blocking_violations(helper) == []
    await desk.send(alice, conversation.id, "您好，我来帮您。")
    await helper.get_by_label("回复内容").wait_for()
    assert await blocking_violations(helper) == []

    staff = await (await chromium.new_context(bypass_csp=True)).new_page()
    await log_in(staff, bot.url, "管理员", "/helpdesk/login?next=/kb/")
    await staff.wait_for_url(bot.url + "/kb/")
    await staff.wait_for_load_state("networkidle")
    assert await blocking_violations(staff) == []
    # The other staff pages (the import page is checked with its own work), on a laptop and a phone.
    for path in ("/kb/edit", "/kb/review", "/kb/worklists", "/kb/audit", "/kb/training", "/kb/analytics"):
        for viewport in ({"width": 1366, "height": 768}, {"width": 390, "height": 844}):
            await staff.set_viewport_size(viewport)
            await staff.goto(bot.url + path)
            await staff.wait_for_load_state("networkidle")
            assert await blocking_violations(staff) == [], (path, viewport)
