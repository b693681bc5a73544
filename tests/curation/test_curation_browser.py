"""The headline case in Debian's Chromium: an editor changes a guide's fee and submits, a reviewer
approves, and the assistant (real Rasa + action server) answers "…要多少钱" with the new fee —
without restarting anything.  The bot under test and the action server share one KB file
(rasa_stack.kb_db, named by KB_DB)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from bot_helpers import RunningBot, WidgetClient, chromium_browser, launch_bot
from curation_helpers import EDITOR, GUIDE_ID, PASSWORD, REVIEWER_2, add_accounts

from knowledge_base.curation import Curation
from knowledge_base.kb import KnowledgeBase
from knowledge_base.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.rasa]

QUESTION = "居民身份证首次申领要多少钱"
OLD_FEE = "工本费20元/证"
NEW_FEE = "工本费25元/证（2027年起）"


async def ask_assistant(bot: RunningBot, text: str) -> str:
    """The assistant's reply text to `text`, through the bot's widget channel (a new conversation)."""
    async with aiohttp.ClientSession() as http:
        client = WidgetClient(await http.ws_connect(bot.ws_url))
        await client.hello()
        ack = await client.say(text)
        replies = await client.answer_to(ack["seq"], timeout=120)
        await client.ws.close()
    return "\n".join(r["text"] for r in replies if r.get("text"))


@pytest.fixture
async def shared_bot(rasa_stack: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningBot]:
    """The bot service on the action server's KB file; the guide is put back as it was afterwards
    (the stack is shared by the whole session)."""
    monkeypatch.setenv("KB_DB", str(rasa_stack.kb_db))
    monkeypatch.delenv("KB_BACKEND", raising=False)
    monkeypatch.delenv("KB_ALLOW_SELF_APPROVAL", raising=False)
    original = Store(rasa_stack.kb_db).version(GUIDE_ID)
    bot = await launch_bot(tmp_path, rasa_url=rasa_stack.rasa_url, api_rate=200.0, api_burst=400)
    add_accounts(bot.store.db)
    yield bot
    await bot.stop()
    kb = KnowledgeBase(Store(rasa_stack.kb_db))
    try:
        curation = Curation(kb)
        if kb.store.version(GUIDE_ID) != original:
            await curation.rollback(GUIDE_ID, original, REVIEWER_2, note="测试结束，恢复原样")
    finally:
        await kb.close()


async def login(browser: Any, bot: RunningBot, name: str) -> Any:
    page = await (await browser.new_context()).new_page()
    await page.goto(bot.url + "/kb/")  # anonymous: sent to the login page, then back to /kb/
    assert "/helpdesk/login" in page.url
    await page.get_by_label("用户名").fill(name)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name=re.compile("登录")).click()
    await page.wait_for_url(bot.url + "/kb/")
    return page


async def test_editor_changes_fee_reviewer_approves_assistant_answers_new_fee(shared_bot: RunningBot) -> None:
    bot = shared_bot
    before = await ask_assistant(bot, QUESTION)
    assert OLD_FEE in before and NEW_FEE not in before

    async with chromium_browser() as browser:
        # The editor finds the guide, changes its fee, previews and submits.
        editor = await login(browser, bot, EDITOR.name)
        await editor.get_by_label("搜索").fill("身份证首次")
        await editor.get_by_label("搜索").press("Enter")
        await editor.get_by_role("link", name="居民身份证首次申领").click()
        await editor.wait_for_url(re.compile(r"/kb/edit\?id="))
        fee = editor.locator('[data-path="fee.standard"]')
        await fee.wait_for()
        assert await fee.input_value() == OLD_FEE
        await fee.fill(NEW_FEE)
        await editor.get_by_label("试问").fill(QUESTION)
        await editor.get_by_role("button", name="试问").click()
        await editor.locator("#preview-answer pre").get_by_text(NEW_FEE, exact=False).wait_for()
        await editor.get_by_role("button", name="提交审核").click()
        await editor.get_by_role("status").get_by_text("已提交审核").wait_for()

        # Not yet published: the assistant still gives the old fee.
        assert OLD_FEE in await ask_assistant(bot, QUESTION)

        # A reviewer (not the author) sees the diff and approves.
        reviewer = await login(browser, bot, REVIEWER_2.name)
        await reviewer.goto(bot.url + "/kb/review")
        item = reviewer.locator(f'article.review-item[data-id="{GUIDE_ID}"]')
        await item.wait_for()
        assert NEW_FEE in await item.locator("table.diff").inner_text()
        assert OLD_FEE in await item.locator("table.diff").inner_text()
        await item.get_by_role("button", name="批准发布").click()
        await reviewer.get_by_role("status").get_by_text("已发布为第").wait_for()

    after = await ask_assistant(bot, QUESTION)
    assert NEW_FEE in after and OLD_FEE not in after


async def test_two_editors_in_two_browsers_conflict_keeps_the_second_text(shared_bot: RunningBot) -> None:
    bot = shared_bot
    async with chromium_browser() as browser:
        first = await login(browser, bot, EDITOR.name)
        second = await login(browser, bot, "小李")
        for page in (first, second):
            await page.goto(f"{bot.url}/kb/edit?id={GUIDE_ID}")
            await page.locator('[data-path="fee.standard"]').wait_for()
        await first.locator('[data-path="fee.standard"]').fill("工本费21元/证")
        await first.get_by_role("button", name="保存草稿").click()
        await first.get_by_role("status").get_by_text("草稿已保存").wait_for()

        mine = "工本费22元/证（第二位编辑）"
        await second.locator('[data-path="fee.standard"]').fill(mine)
        await second.get_by_role("button", name="保存草稿").click()
        conflict = second.locator("#conflict")
        await conflict.get_by_text("保存冲突").wait_for()
        table = await conflict.locator("table.diff").inner_text()
        assert "工本费21元/证" in table and mine in table
        assert await second.locator('[data-path="fee.standard"]').input_value() == mine  # nothing lost
        await conflict.get_by_role("button", name="保留我的内容并保存").click()
        await second.get_by_role("status").get_by_text("草稿已保存").wait_for()

    kb = KnowledgeBase(Store(os.environ["KB_DB"]))  # the file the fixture named
    try:
        draft = Curation(kb).open_revision(GUIDE_ID)
        assert draft is not None and draft.data["fee"]["standard"] == mine and draft.last_editor == "小李"
        Curation(kb).discard_draft(GUIDE_ID, draft.edit, EDITOR)
    finally:
        await kb.close()
