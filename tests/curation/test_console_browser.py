"""The console pages in Debian's Chromium without Rasa: HTML in an entry shows as text everywhere,
Enter while an input method is composing sends nothing, lists are edited row by row."""

from __future__ import annotations

import re
from typing import Any

import pytest
from bot_helpers import RunningBot, chromium_browser
from curation_helpers import GUIDE_ID, PASSWORD, with_fee

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


async def login(browser: Any, bot: RunningBot, name: str) -> Any:
    page = await (await browser.new_context()).new_page()
    await page.goto(bot.url + "/helpdesk/login?next=/kb/")
    await page.get_by_label("用户名").fill(name)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name=re.compile("登录")).click()
    await page.wait_for_url(bot.url + "/kb/")
    return page


async def test_html_shows_as_text_in_editor_review_and_preview(curation_bot: RunningBot, staff: Any) -> None:
    editor_api = await staff(curation_bot, "小编")
    status, entry = await editor_api.get(f"/api/kb/entries/{GUIDE_ID}")
    data = with_fee(entry["published"]["data"], XSS)
    status, saved = await editor_api.post(
        f"/api/kb/entries/{GUIDE_ID}/draft", {"data": data, "base_version": entry["published"]["version"]}
    )
    assert status == 200
    status, _ = await editor_api.post(f"/api/kb/entries/{GUIDE_ID}/submit", {"expected_edit": saved["draft"]["edit"]})
    assert status == 200

    async with chromium_browser() as browser:
        reviewer = await login(browser, curation_bot, "审核甲")
        await reviewer.goto(curation_bot.url + "/kb/review")
        item = reviewer.locator(f'article.review-item[data-id="{GUIDE_ID}"]')
        await item.wait_for()
        assert XSS in await item.locator("table.diff").inner_text()

        editor = await login(browser, curation_bot, "小编")
        await editor.goto(f"{curation_bot.url}/kb/edit?id={GUIDE_ID}")
        fee = editor.locator('[data-path="fee.standard"]')
        await fee.wait_for()
        assert await fee.input_value() == XSS
        question = editor.get_by_label("试问")
        await question.fill("居民身份证首次申领要多少钱")
        await editor.get_by_role("button", name="试问").click()
        answer = editor.locator("#preview-answer pre")
        await answer.wait_for()
        assert XSS in await answer.inner_text()
        for page in (reviewer, editor):
            assert await page.evaluate("window.__pwned") is None
            assert await page.locator("#preview-answer img, table.diff img").count() == 0


async def test_enter_while_composing_sends_nothing(curation_bot: RunningBot) -> None:
    async with chromium_browser() as browser:
        editor = await login(browser, curation_bot, "小编")
        await editor.goto(f"{curation_bot.url}/kb/edit?id={GUIDE_ID}")
        question = editor.get_by_label("试问")
        await question.fill("居民身份证首次申领要多少钱")
        sent: list[str] = []
        editor.on("request", lambda r: sent.append(r.url) if r.url.endswith("/api/kb/preview") else None)
        # The IME's Enter (choosing a candidate) comes first; a send from it would be issued before
        # the real Enter's, so exactly one request means the IME's Enter sent nothing.
        await question.dispatch_event("keydown", {"key": "Enter", "isComposing": True, "keyCode": 229})
        assert await editor.locator("#preview-answer").inner_text() == ""
        await question.press("Enter")
        await editor.locator("#preview-answer pre").wait_for()
        assert len(sent) == 1


async def test_materials_are_edited_as_rows(curation_bot: RunningBot, staff: Any) -> None:
    async with chromium_browser() as browser:
        editor = await login(browser, curation_bot, "小编")
        await editor.goto(f"{curation_bot.url}/kb/edit?id={GUIDE_ID}")
        rows = editor.locator('ol.rows[data-path="materials"] > li')
        await rows.first.wait_for()
        count = await rows.count()
        first_name = await editor.locator('[data-path="materials[0].name"]').input_value()
        second_name = await editor.locator('[data-path="materials[1].name"]').input_value()
        # Move the first material down, add one, remove nothing else; save the draft.
        await rows.nth(0).get_by_role("button", name="↓").click()
        await editor.get_by_role("button", name="添加材料").click()
        assert await rows.count() == count + 1
        await rows.nth(count).locator("input[type=text]").first.fill("测试新增材料")
        await editor.get_by_role("button", name="保存草稿").click()
        await editor.get_by_role("status").get_by_text("草稿已保存").wait_for()

    api = await staff(curation_bot, "小编")
    status, entry = await api.get(f"/api/kb/entries/{GUIDE_ID}")
    assert status == 200
    names = [m["name"] for m in entry["draft"]["data"]["materials"]]
    assert names[:2] == [second_name, first_name] and names[-1] == "测试新增材料" and len(names) == count + 1


async def test_login_returns_to_the_page_asked_for_and_never_to_another_site(curation_bot: RunningBot) -> None:
    async with chromium_browser() as browser:
        page = await (await browser.new_context()).new_page()
        await page.goto(curation_bot.url + "/kb/audit")
        assert "/helpdesk/login?next=/kb/audit" in page.url
        await page.get_by_label("用户名").fill("小编")
        await page.get_by_label("密码").fill(PASSWORD)
        await page.get_by_role("button", name=re.compile("登录")).click()
        await page.wait_for_url(curation_bot.url + "/kb/audit")

        for elsewhere in ("//evil.example/kb/", "https://evil.example/kb/", "/kb/../../evil", "/\\evil.example"):
            page = await (await browser.new_context()).new_page()
            await page.goto(curation_bot.url + "/helpdesk/login?next=" + elsewhere)
            await page.get_by_label("用户名").fill("小编")
            await page.get_by_label("密码").fill(PASSWORD)
            await page.get_by_role("button", name=re.compile("登录")).click()
            await page.wait_for_url(curation_bot.url + "/kb/")  # the editor's own console instead


STAFF_PAGES = ("/kb/", "/kb/edit", "/kb/review", "/kb/worklists", "/kb/audit", "/kb/training", "/kb/analytics")


async def test_staff_pages_fit_a_phone_and_a_laptop_with_chinese_errors_and_empty_states(
    curation_bot: RunningBot,
) -> None:
    """Every staff page (the import page aside) at 1366×768 and on a phone: nothing runs off the side,
    the header stays a header (not one character per line), the editor's side panel goes under the
    form on a phone; an empty list says so; an error is in Chinese only (#17)."""
    async with chromium_browser() as browser:
        for viewport, phone in (({"width": 1366, "height": 768}, False), ({"width": 390, "height": 844}, True)):
            context = await browser.new_context(viewport=viewport, is_mobile=phone)
            page = await context.new_page()
            await page.goto(curation_bot.url + "/helpdesk/login?next=/kb/")
            await page.get_by_label("用户名").fill("管理员")
            await page.get_by_label("密码").fill(PASSWORD)
            await page.get_by_role("button", name=re.compile("登录")).click()
            await page.wait_for_url(curation_bot.url + "/kb/")
            for path in STAFF_PAGES:
                await page.goto(curation_bot.url + path)
                nav = page.get_by_role("navigation", name="控制台页面")
                await nav.wait_for()
                await page.wait_for_load_state("networkidle")
                assert await page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], path
                header = await page.locator("header").bounding_box()
                assert header["height"] < (90 if phone else 60), (path, header)
                link = await nav.get_by_role("link", name="条目").bounding_box()
                assert link["height"] < 40, path  # one line, not a column of single characters
            if phone:
                await page.goto(curation_bot.url + f"/kb/edit?id={GUIDE_ID}")
                await page.locator('[data-path="title"]').wait_for()
                form = await page.locator('[data-path="title"]').bounding_box()
                assert form["width"] > 300  # the form has the width of the phone, the panel is under it
            await context.close()

        page = await (await browser.new_context()).new_page()
        await page.goto(curation_bot.url + "/helpdesk/login?next=/kb/audit")
        await page.get_by_label("用户名").fill("管理员")
        await page.get_by_label("密码").fill(PASSWORD)
        await page.get_by_role("button", name=re.compile("登录")).click()
        await page.wait_for_url(curation_bot.url + "/kb/audit")
        await page.get_by_label("操作人").fill("没有这个人")
        await page.get_by_role("button", name="筛选").click()
        await page.get_by_text("没有符合条件的操作记录。").wait_for()
        await page.goto(curation_bot.url + "/kb/?q=没有这样的条目名称xyz")
        await page.get_by_label("搜索").fill("没有这样的条目名称xyz")
        await page.get_by_role("button", name="筛选").click()
        await page.get_by_text("没有符合条件的条目").wait_for()
        # An error from the server: its Chinese half, never "… / English".
        await page.goto(curation_bot.url + "/kb/edit?id=" + "x" * 130)
        status = page.get_by_role("status")
        await status.get_by_text("条目编号太长。").wait_for()
        assert "Entry id" not in await status.inner_text()


async def test_a_material_is_marked_exempt_in_the_editor(curation_bot: RunningBot, staff: Any) -> None:
    """免证办: the editor names the 电子证照 that replaces a material and how it is presented."""
    async with chromium_browser() as browser:
        editor = await login(browser, curation_bot, "小编")
        await editor.goto(f"{curation_bot.url}/kb/edit?id={GUIDE_ID}")
        first = editor.locator('ol.rows[data-path="materials"] > li').first
        await first.wait_for()
        await first.get_by_role("checkbox", name="有免提交（电子证照）").check()
        await editor.locator('[data-path="materials[0].exempt.licence"]').fill("电子户口簿")
        await editor.locator('[data-path="materials[0].exempt.way"]').select_option("爱山东亮证")
        await editor.get_by_role("button", name="保存草稿").click()
        await editor.get_by_role("status").get_by_text("草稿已保存").wait_for()

    api = await staff(curation_bot, "小编")
    status, entry = await api.get(f"/api/kb/entries/{GUIDE_ID}")
    assert status == 200
    assert entry["draft"]["data"]["materials"][0]["exempt"] == {"licence": "电子户口簿", "way": "爱山东亮证"}
    assert entry["draft"]["data"]["materials"][1].get("exempt") is None


async def test_a_policy_is_created_in_the_editor_with_its_criteria(curation_bot: RunningBot, staff: Any) -> None:
    """惠企政策: the editor ticks criteria from the fixed lists; an untouched year stays 不限."""
    async with chromium_browser() as browser:
        editor = await login(browser, curation_bot, "小编")
        await editor.goto(f"{curation_bot.url}/kb/edit?new=policy")
        await editor.locator('[data-path="id"]').fill("policy.browser-test")
        await editor.locator('[data-path="title"]').fill("浏览器测试政策（示例）")
        await editor.locator('[data-path="department"]').fill("济阳区商务局")
        await editor.locator('[data-path="level"]').select_option("区")
        await editor.locator('[data-path="summary"]').fill("测试用。")
        sizes = editor.locator('[data-path="criteria.sizes"]')
        await sizes.get_by_role("checkbox", name="小型", exact=True).check()
        await editor.locator('[data-path="criteria.places"]').get_by_role("checkbox", name="济阳区", exact=True).check()
        await editor.locator('[data-path="criteria.min_years"]').fill("2")
        await editor.locator('[data-path="benefit"]').fill("补助1万元（示例）。")
        await editor.locator('[data-path="apply"]').fill("向区商务局申请。")
        await editor.locator('[data-path="source"]').fill("示例政策，测试用")
        await editor.get_by_role("button", name="保存草稿").click()
        await editor.get_by_role("status").get_by_text("草稿已保存").wait_for()

    api = await staff(curation_bot, "小编")
    status, entry = await api.get("/api/kb/entries/policy.browser-test")
    assert status == 200, entry
    data = entry["draft"]["data"]
    assert data["criteria"] == {
        "industries": [],
        "sizes": ["小型"],
        "min_years": 2,
        "places": ["济阳区"],
        "tax_credit": [],
        "good_credit": False,
        "qualifications": [],
    }
    assert data["kind"] == "policy" and data["auto"] is False and "deadline" not in data
