"""The analytics page in real Chromium: a reviewer sees the stored conversations counted right, a
chart's CSV matches the database, the filters narrow the numbers; personal numbers never show.

Turns are written the way bot.service writes them (store calls), spread over a week, so the
page has days, channels, ratings and helper claims to show.  With JSB_SCREENSHOTS=<dir> the page
is also saved as <dir>/analytics.png (docs/screenshots/analytics.png comes from here).
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import Any

from staff_helpers import PASSWORD

from bot import curation
from bot.conversations import Entry, OutgoingDraft
from bot.store import Store

GUIDE = ("guide.senior-preferential-card", "老年人优待证办理")
LEVELS = [5, 4, 1, 5, 2, 3, 4, 5, 1, 4]
CHANNELS = ("webwidget", "telegram", "rest")


async def seed(store: Store, other: tuple[str, str]) -> None:
    """A week of turns: answered, clarified, unanswered (one with a phone number), handed off, rated;
    each conversation moved back to its day and an hour of it (the store stamps rows now)."""
    [helper] = await store.rows("SELECT id FROM helpers WHERE name = '帮办小张'")
    rated = 0
    for day in range(7):
        for i in range(3 + day):
            conversation = await store.create_conversation(CHANNELS[i % 3], f"v-{day}-{i}")
            message, _ = await store.add_incoming(conversation.id, "老年优待证怎么办")
            entry_id, title = GUIDE if i % 2 else other
            [answer] = await store.record_answer(
                conversation,
                [OutgoingDraft("答", entry=Entry(entry_id, title, "guide", None, 1))],
                answers=message.seq,
                events=[("answer", {"entry_id": entry_id, "element": None, "kind": "guide"})],
            )
            if i % 2 == 0:
                level = LEVELS[rated % len(LEVELS)]
                rated += 1
                await store.add_rating(
                    conversation, level, message_seq=answer.seq, entry_id=entry_id, entry_title=title,
                    comment=None, reason="wrong" if level == 1 else "unclear" if level == 2 else None,
                )  # fmt: skip
            question, _ = await store.add_incoming(conversation.id, f"火星签证怎么办 电话1381234567{i % 10}")
            await store.record_answer(conversation, [OutgoingDraft("没找到")], answers=question.seq)
            await store.track_questions(conversation, question, [{"reason": "not_found", "choices": []}], [])
            if i == 2:
                ask, _ = await store.add_incoming(conversation.id, "转人工")
                await store.record_answer(
                    conversation,
                    [OutgoingDraft("已转")],
                    answers=ask.seq,
                    events=[("handoff", {"reason": "request_human", "service": GUIDE[0], "step": None})],
                )
                await store.add_handoff(conversation, {"reason": "request_human", "service": GUIDE[0]})
                [handoff] = await store.rows("SELECT id, created_at FROM handoffs ORDER BY id DESC LIMIT 1")
                claimed = handoff["created_at"] + 30 + day * 10
                store.db.execute(
                    "INSERT INTO helpdesk_claims (conversation_id, handoff_id, helper_id, claimed_at, ended_at, "
                    "ended_by) VALUES (?, ?, ?, ?, ?, 'helper')",
                    (conversation.id, handoff["id"], helper["id"], claimed, claimed + 300),
                )
                [hello] = await store.add_outgoing(
                    conversation.id, [OutgoingDraft("您好", extra={"helper": "帮办小张"})]
                )
                store.db.execute(
                    "UPDATE messages SET created_at = ? WHERE seq = ?", (claimed + 20 + day * 15, hello.seq)
                )
            shift = (6 - day) * 86400 + (i * 5 % 11) * 3600
            for table in ("messages", "analytics_events", "unresolved_questions", "ratings", "handoffs"):
                store.db.execute(
                    f"UPDATE {table} SET created_at = created_at - ? WHERE conversation_id = ?",
                    (shift, conversation.id),
                )
            store.db.execute(
                "UPDATE helpdesk_claims SET claimed_at = claimed_at - ?, ended_at = ended_at - ? "
                "WHERE conversation_id = ?",
                (shift, shift, conversation.id),
            )
    store.db.execute("UPDATE ratings SET due_at = created_at + 15 * 86400 WHERE level <= 2")


async def login(browser: Any, url: str, name: str, page_path: str) -> Any:
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)).new_page()
    await page.goto(url + page_path)
    await page.get_by_label("用户名").fill(name)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name=re.compile("登录")).click()
    await page.wait_for_url(url + page_path)
    return page


async def test_reviewer_sees_counts_that_match_the_database(start_bot, staff, chromium):
    bot = await start_bot()
    await staff(bot, "审核老周", "reviewer")
    await staff(bot, "编辑小李", "editor")
    await staff(bot, "帮办小张", "helper")
    kb = curation.curation_of(bot.app)
    other = next((e.id, e.question) for e in kb.store.all("qa"))
    await seed(bot.store, other)
    [low] = await bot.store.rows("SELECT id FROM ratings WHERE level <= 2 ORDER BY id LIMIT 1")
    await bot.store.close_items("rating", [low["id"]], "rectified", "审核老周", None, None)
    [questions] = await bot.store.rows("SELECT COUNT(*) AS n FROM messages WHERE direction = 'in'")

    page = await login(chromium, bot.url, "审核老周", "/kb/analytics")
    headline = page.get_by_role("region", name="概况")
    await headline.get_by_text("咨询量").wait_for()
    assert str(questions["n"]) in await headline.inner_text()
    text = await page.locator("main").inner_text()
    assert "13812345" not in text and "138****567" in text  # masked, as stored
    assert GUIDE[1] in text and "帮办小张" in text
    await page.locator("figure[data-chart='volume_by_day'] svg").first.wait_for()  # ECharts drew it

    # The channel chart's CSV is what the database says.
    figure = page.locator("figure[data-chart='volume_by_channel']")
    async with page.expect_download() as info:
        await figure.get_by_role("link", name="下载 CSV").click()
    download = await info.value
    rows = list(csv.reader(io.StringIO(Path(await download.path()).read_text(encoding="utf-8-sig"))))
    by_db = await bot.store.rows(
        "SELECT c.channel, COUNT(*) AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id "
        "WHERE m.direction = 'in' GROUP BY c.channel"
    )
    names = {"webwidget": "网页", "telegram": "Telegram", "rest": "App/接口"}
    assert rows[0] == ["渠道", "咨询量"]
    assert {name: int(n) for name, n in rows[1:]} == {names[r["channel"]]: r["n"] for r in by_db}

    if os.environ.get("JSB_SCREENSHOTS"):
        await page.screenshot(path=str(Path(os.environ["JSB_SCREENSHOTS"]) / "analytics.png"), full_page=True)

    # A channel filter narrows the counts.
    await page.locator("#channel").select_option("telegram")
    await page.get_by_role("button", name="查看").click()
    [tg] = [r["n"] for r in by_db if r["channel"] == "telegram"]
    await page.locator("#headline strong").first.filter(has_text=re.compile(f"^{tg}$")).wait_for()

    # Editors do not see the page.
    editor = await login(chromium, bot.url, "编辑小李", "/kb/")
    response = await editor.goto(bot.url + "/kb/analytics")
    assert response.status == 403
    assert await editor.get_by_role("link", name="数据分析").count() == 0
