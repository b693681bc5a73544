"""The web widget in Debian's Chromium (Playwright, executable_path=/usr/bin/chromium).

The widget lives in an open shadow root; Playwright's locators pierce it, and page.evaluate reaches
it through document.querySelector('#jsb-widget').shadowRoot.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from bot_helpers import RunningBot, StartBot, nobody_listening

from bot import texts
from bot.conversations import Button, Entry, Kind, OutgoingDraft
from knowledge_base.kb import KnowledgeBase
from knowledge_base.loader import load_data_dir
from knowledge_base.store import Store

pytestmark = pytest.mark.browser

GUIDE_ID = "guide.individual-business-registration"
QUESTION = "个体工商户设立登记要带什么材料？"
XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
SHADOW = "document.querySelector('#jsb-widget').shadowRoot"


def guide():
    return next(entry for entry in load_data_dir() if entry.id == GUIDE_ID)


async def open_widget(page: Any, bot: RunningBot) -> None:
    await page.goto(bot.url + "/")
    await page.get_by_role("button", name="打开政务服务智能助手").click()
    await page.get_by_label("输入您的问题").wait_for()


async def reopened_after_reload(page: Any) -> None:
    """The panel was open before the reload: it opens again by itself (the launcher is hidden)."""
    await page.get_by_label("输入您的问题").wait_for()
    assert await page.get_by_role("button", name="打开政务服务智能助手").count() == 0


async def ask(page: Any, text: str) -> None:
    box = page.get_by_label("输入您的问题")
    await box.fill(text)
    await box.press("Enter")


async def incoming_count(bot: RunningBot) -> int:
    rows = await bot.store.rows("SELECT COUNT(*) AS n FROM messages WHERE direction = 'in'")
    return rows[0]["n"]


@pytest.mark.rasa
async def test_ask_click_rate_reload(start_bot: StartBot, browser, rasa_stack):
    bot = await start_bot(rasa_url=rasa_stack.rasa_url)
    page = await browser.new_page()
    await open_widget(page, bot)
    log = page.get_by_role("log", name="对话记录")
    assert await log.get_attribute("aria-live") == "polite"

    await ask(page, QUESTION)
    first_material = guide().materials[0].name
    await log.get_by_text(first_material, exact=False).first.wait_for(timeout=90_000)
    title = (await bot.store.rows("SELECT entry FROM messages WHERE entry IS NOT NULL"))[0]["entry"]
    assert GUIDE_ID in title

    # Quick reply: the walkthrough's first step appears.
    await page.get_by_role("button", name="网上怎么办").last.click()
    await log.get_by_text(guide().online.steps[0], exact=False).first.wait_for(timeout=90_000)

    # 满意 names the answer it rates; rating is a state on the answer: no bubble, the walkthrough goes on.
    bubbles = await log.locator(".msg").count()
    rate_good = page.get_by_role("button", name=re.compile("^满意：")).first
    label = await rate_good.get_attribute("aria-label")
    assert label.startswith("满意：回答“") and len(label) > 6
    await rate_good.click()
    await log.get_by_text("已评价：满意").wait_for()
    for _ in range(300):
        if await bot.store.rows("SELECT * FROM ratings"):
            break
        await asyncio.sleep(0.2)
    [rating] = await bot.store.rows("SELECT level, entry_id FROM ratings")
    assert rating == {"level": 4, "entry_id": GUIDE_ID}
    assert await log.locator(".msg").count() == bubbles
    assert await log.locator(".msg.bot").last.locator(".quick-reply").first.is_enabled()

    # Reload: the conversation comes back from the server.
    await page.reload()
    await reopened_after_reload(page)
    await log.locator(".msg.mine").get_by_text(QUESTION).wait_for()  # not the 猜你想问 button
    await log.get_by_text(first_material, exact=False).first.wait_for()
    await log.get_by_text("已评价：满意").wait_for()
    await page.close()


async def test_ime_composition_never_sends(start_bot: StartBot, browser):
    bot = await start_bot(rasa_url=nobody_listening())
    page = await browser.new_page()
    await open_widget(page, bot)
    box = page.get_by_label("输入您的问题")
    await box.fill("banyingyezhizhao")  # pinyin being composed
    # The IME's Enter (choosing characters): during composition, isComposing and keyCode 229.
    await box.dispatch_event("compositionstart", {"data": ""})
    await box.evaluate(
        """el => {
            el.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true, isComposing: true}));
            const legacy = new KeyboardEvent('keydown', {key: 'Enter', bubbles: true});
            Object.defineProperty(legacy, 'keyCode', {value: 229});
            el.dispatchEvent(legacy);
        }"""
    )
    await box.dispatch_event("compositionend", {"data": "办营业执照"})
    # Safari-style: after compositionend an Enter still carrying keyCode 229 must not send either.
    await box.evaluate(
        """el => {
            const late = new KeyboardEvent('keydown', {key: 'Enter', bubbles: true});
            Object.defineProperty(late, 'keyCode', {value: 229});
            el.dispatchEvent(late);
        }"""
    )
    assert await box.input_value() == "banyingyezhizhao"
    assert await page.get_by_role("log").locator(".msg").count() == 0
    assert await incoming_count(bot) == 0

    # A real Enter after composition sends.
    await box.fill("办营业执照")
    await box.press("Enter")
    await page.get_by_role("log").get_by_text(texts.APOLOGY).wait_for()  # Rasa is down here
    assert await incoming_count(bot) == 1
    assert await box.input_value() == ""
    await page.close()


async def test_html_in_messages_is_shown_as_text_and_never_runs(start_bot: StartBot, browser):
    bot = await start_bot(rasa_url=nobody_listening())
    page = await browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await open_widget(page, bot)
    await ask(page, XSS)
    log = page.get_by_role("log")
    await log.get_by_text(texts.APOLOGY).wait_for()
    bubble = log.locator(".msg.mine .bubble").first
    assert XSS in await bubble.inner_text()
    assert await page.evaluate(f"{SHADOW}.querySelectorAll('.log img, .log script').length") == 0
    assert await page.evaluate("window.__pwned") is None
    # Also after a reload, when the text comes back from the server's history.
    await page.reload()
    await reopened_after_reload(page)
    await log.get_by_text(texts.APOLOGY).wait_for()
    assert XSS in await log.locator(".msg.mine .bubble").first.inner_text()
    assert await page.evaluate("window.__pwned") is None and dialogs == []
    await page.close()


async def test_keyboard_and_screen_reader_basics_and_elder_mode(start_bot: StartBot, browser):
    bot = await start_bot(rasa_url=nobody_listening())
    page = await browser.new_page()
    await page.goto(bot.url + "/")
    launcher = page.get_by_role("button", name="打开政务服务智能助手")
    assert await launcher.get_attribute("aria-expanded") == "false"
    await launcher.focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="济时办 · 政务服务智能助手")
    await dialog.wait_for()
    assert await page.evaluate(f"{SHADOW}.activeElement.id") == "jsb-input"  # focus moved to the input
    for name in ("长辈模式", "关闭对话窗口", "发送"):
        assert await page.get_by_role("button", name=name).count() == 1

    elder = page.get_by_role("button", name="长辈模式")
    size_before = await page.evaluate(f"getComputedStyle({SHADOW}.querySelector('.jsb')).fontSize")
    await elder.click()
    assert await elder.get_attribute("aria-pressed") == "true"
    size_after = await page.evaluate(f"getComputedStyle({SHADOW}.querySelector('.jsb')).fontSize")
    assert float(size_after.rstrip("px")) >= float(size_before.rstrip("px")) * 1.3
    await page.reload()  # the choice is remembered
    await reopened_after_reload(page)
    assert await page.get_by_role("button", name="长辈模式").get_attribute("aria-pressed") == "true"

    await page.keyboard.press("Escape")
    await dialog.wait_for(state="hidden")
    assert await page.evaluate(f"{SHADOW}.activeElement?.classList.contains('launcher')") is True
    await page.close()


async def test_mobile_layout_fills_the_screen(start_bot: StartBot, browser):
    bot = await start_bot(rasa_url=nobody_listening())
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = await context.new_page()
    await open_widget(page, bot)
    box = await page.get_by_role("dialog").bounding_box()
    assert box["width"] == pytest.approx(390, abs=2) and box["height"] == pytest.approx(844, abs=2)
    await context.close()


async def test_reconnects_and_resends_what_was_not_acknowledged(start_bot: StartBot, browser, tmp_path):
    database = tmp_path / "widget.sqlite3"
    bot = await start_bot(rasa_url=nobody_listening(), db_path=database)
    page = await browser.new_page()
    await open_widget(page, bot)
    await ask(page, "第一条")
    await page.get_by_role("log").get_by_text(texts.APOLOGY).wait_for()

    await bot.stop()  # the service goes away (1001)…
    await page.get_by_role("status").get_by_text("正在重新连接").wait_for()
    await ask(page, "断线时发的这条")  # …the citizen keeps typing
    await page.get_by_text("发送中…").wait_for()

    restarted = await start_bot(rasa_url=nobody_listening(), db_path=database, port=bot.config.port)
    await (
        page.get_by_role("log")
        .get_by_text(texts.STILL_QUEUED)
        .or_(page.get_by_role("log").get_by_text(texts.APOLOGY).nth(1))
        .wait_for(timeout=60_000)
    )
    rows = await restarted.store.rows("SELECT text FROM messages WHERE direction = 'in' ORDER BY seq")
    assert [r["text"] for r in rows] == ["第一条", "断线时发的这条"]  # resent once, after the reconnect
    assert await page.get_by_text("发送中…").count() == 0
    await page.close()


async def test_walkthrough_step_buttons_stay_live_after_a_typed_question(start_bot: StartBot, browser):
    """A typed question in a walkthrough is answered and the step stays: its buttons still work,
    while the buttons of older, finished answers do not."""
    bot = await start_bot(rasa_url=nobody_listening())
    page = await browser.new_page()
    await open_widget(page, bot)
    log = page.get_by_role("log", name="对话记录")
    [row] = await bot.store.rows("SELECT id FROM conversations")
    conversation = await bot.store.get_conversation(row["id"])
    step_buttons = tuple(Button(title, f"/{title}") for title in ("上一步", "下一步", "卡住了", "不办了"))
    walkthrough = {"entry_id": GUIDE_ID, "step": 2, "total": 4}
    await bot.service.say(conversation, [OutgoingDraft("第 0 个回答", Kind.TEXT, buttons=(Button("旧选项", "/old"),))])
    await bot.service.say(
        conversation,
        [
            OutgoingDraft(
                "第 2/4 步：填写经营者信息", Kind.TEXT, buttons=step_buttons, extra={"walkthrough": walkthrough}
            )
        ],
    )
    # The citizen types a question; its answer (with buttons of its own) comes after the step.
    await ask(page, "那要多少钱？")
    await bot.service.say(conversation, [OutgoingDraft("不收费。", Kind.TEXT, buttons=(Button("办理地点", "/where"),))])
    await log.get_by_text("不收费。").wait_for()
    assert await log.get_by_role("button", name="下一步").is_enabled()
    assert await log.get_by_role("button", name="上一步").is_enabled()
    assert await log.get_by_role("button", name="办理地点").is_enabled()
    assert await log.get_by_role("button", name="旧选项").is_disabled()
    # The next step replaces the old one: only the newest step's buttons are live.
    await bot.service.say(
        conversation,
        [
            OutgoingDraft(
                "第 3/4 步：上传材料",
                Kind.TEXT,
                buttons=step_buttons,
                extra={"walkthrough": {**walkthrough, "step": 3}},
            )
        ],
    )
    await log.get_by_text("第 3/4 步：上传材料").wait_for()
    assert await log.get_by_role("button", name="下一步").first.is_disabled()
    assert await log.get_by_role("button", name="下一步").last.is_enabled()
    await page.close()


async def test_a_guide_answer_links_to_the_full_guide_and_its_online_entry(
    start_bot: StartBot, browser, tmp_path, monkeypatch
):
    entry = guide()
    kb = KnowledgeBase(Store(tmp_path / "kb.sqlite3"))
    await kb.publish([entry])
    await kb.close()
    monkeypatch.setenv("KB_DB", str(tmp_path / "kb.sqlite3"))
    bot = await start_bot(rasa_url=nobody_listening())
    page = await browser.new_page()
    await open_widget(page, bot)
    log = page.get_by_role("log", name="对话记录")
    [row] = await bot.store.rows("SELECT id FROM conversations")
    conversation = await bot.store.get_conversation(row["id"])
    answer = Entry(entry.id, entry.title, "guide", "online")
    await bot.service.say(conversation, [OutgoingDraft(entry.online.steps[0], Kind.TEXT, entry=answer)])
    full = log.get_by_role("link", name="查看完整办事指南")
    await full.wait_for()
    assert await full.get_attribute("href") == f"{bot.url}/guides/{entry.id}"
    online_link = log.get_by_role("link", name="在线办理入口")
    assert await online_link.get_attribute("href") == f"{bot.url}/guides/{entry.id}#online"

    async with page.expect_popup() as opened:
        await full.click()
    guide_page = await opened.value
    await guide_page.get_by_role("heading", name=entry.title, level=1).wait_for()
    assert await guide_page.get_by_text(entry.materials[0].name, exact=False).count() >= 1
    online = guide_page.locator("#online")
    await online.get_by_text(entry.online.entry, exact=False).wait_for()
    assert await online.get_by_role("listitem").count() == len(entry.online.steps)
    await guide_page.goto(f"{bot.url}/guides/guide.no-such-thing")
    await guide_page.get_by_role("heading", name="没有找到这份办事指南").wait_for()
    await page.close()


async def test_a_low_rating_keeps_its_reason_form_until_sent_and_its_thanks_after_a_reload(
    start_bot: StartBot, browser
):
    """The reason form of a 不满意 survives a reload until it is sent; once sent, a reload shows the
    rated state and the thanks, never the form again (#16)."""
    bot = await start_bot(rasa_url=nobody_listening())
    page = await browser.new_page()
    await open_widget(page, bot)
    log = page.get_by_role("log", name="对话记录")
    [row] = await bot.store.rows("SELECT id FROM conversations")
    conversation = await bot.store.get_conversation(row["id"])
    answer = Entry(GUIDE_ID, "个体工商户设立登记", "guide", None)
    await bot.service.say(conversation, [OutgoingDraft("带身份证和经营场所证明。", Kind.TEXT, entry=answer)])
    levels = log.get_by_role("group", name="评价回答“个体工商户设立登记”")
    await levels.get_by_role("button", name=re.compile("^不满意")).click()
    await log.get_by_text("已评价：不满意").wait_for()
    form = log.get_by_role("form", name="不满意的原因")
    await form.wait_for()
    for _ in range(100):  # the level is stored before the reason is sent
        if await bot.store.rows("SELECT 1 FROM ratings WHERE level = 2"):
            break
        await page.wait_for_timeout(100)

    # Rated, no reason yet: after a reload the level shows and the form is still there.
    await page.reload()
    await reopened_after_reload(page)
    await log.get_by_text("已评价：不满意").wait_for()
    await form.wait_for()
    await form.get_by_role("button", name="材料或步骤不全").click()
    await form.get_by_role("button", name="提交意见").click()
    await log.get_by_text("已收到您的意见").wait_for()
    for _ in range(100):
        rows = await bot.store.rows("SELECT reason FROM ratings")
        if rows and rows[0]["reason"]:
            break
        await page.wait_for_timeout(100)
    assert rows == [{"reason": "incomplete"}]

    # Sent: a reload shows the level and the thanks, and the form does not come back.
    await page.reload()
    await reopened_after_reload(page)
    await log.get_by_text("已评价：不满意").wait_for()
    await log.get_by_text("已收到您的意见").wait_for()
    assert await form.count() == 0
    # Another level is a new rating: its reason is asked again.
    await levels.get_by_role("button", name=re.compile("^非常不满意")).click()
    await form.wait_for()
    await page.close()
