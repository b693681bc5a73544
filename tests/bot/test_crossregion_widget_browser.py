"""自助办 and 跨域通办 in the web widget, in Debian's Chromium, through the real stack (bot service,
trained Rasa, action server): a citizen asks for a terminal, then when it closes, then whether a
guide can be done where they work."""

from __future__ import annotations

import pytest
from bot_helpers import StartBot
from test_bot_widget_browser import ask, open_widget

from knowledge_base.loader import load_data_dir
from knowledge_base.models import Terminal

pytestmark = [pytest.mark.browser, pytest.mark.rasa]


@pytest.mark.rasa
async def test_a_terminal_its_hours_and_a_guide_elsewhere(start_bot: StartBot, browser, rasa_stack):
    terminals = {e.id: e for e in load_data_dir() if isinstance(e, Terminal)}
    bot = await start_bot(rasa_url=rasa_stack.rasa_url)
    page = await browser.new_page()
    await open_widget(page, bot)
    log = page.get_by_role("log", name="对话记录")

    await ask(page, "附近哪有能打社保证明的自助机")
    await log.get_by_text("告诉我您在哪个街道或镇", exact=False).wait_for(timeout=90_000)
    shown = [t for t in terminals.values() if await log.get_by_text(t.name, exact=False).count()]
    assert shown and all("guide.social-insurance-record-print" in t.guides for t in shown)

    await ask(page, "几点关门")
    # The hours reply says "name：hours" (the list said "name（24小时开放）").
    await log.get_by_text(f"{shown[0].name}：{shown[0].hours}", exact=False).wait_for(timeout=90_000)
    hours = await log.locator(".msg.bot").last.inner_text()
    assert all(t.name in hours and t.hours in hours for t in shown)

    await ask(page, "补办身份证，我在北京工作能在那边办吗")
    await log.get_by_text("在北京可以办", exact=False).wait_for(timeout=90_000)
    await page.close()
