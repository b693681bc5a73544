"""跨域通办 in the staff editor, in Debian's Chromium without Rasa: a guide gets a 通办范围 row
(scope, ways, where) that is saved as its cross_region."""

from __future__ import annotations

from typing import Any

import pytest
from bot_helpers import RunningBot, chromium_browser
from curation_helpers import GUIDE_ID
from test_console_browser import login

pytestmark = pytest.mark.browser


async def test_a_guide_gets_a_cross_region_row_in_the_editor(curation_bot: RunningBot, staff: Any) -> None:
    async with chromium_browser() as browser:
        editor = await login(browser, curation_bot, "小编")
        await editor.goto(f"{curation_bot.url}/kb/edit?id={GUIDE_ID}")
        # The list is empty, so its field label names the add button ("跨域通办"): found by its place.
        await editor.locator('ol.rows[data-path="cross_region"] + button.add').click()
        await editor.locator('[data-path="cross_region[0].scope"]').select_option("省内通办")
        ways = editor.locator('[data-path="cross_region[0].ways"]')
        # The field's own label also names its first box: the boxes are found by their value.
        await ways.locator('input[value="异地窗口"]').check()
        await ways.locator('input[value="全程网办"]').check()
        await editor.locator('[data-path="cross_region[0].where"]').fill("山东省内任一派出所户籍窗口")
        await editor.get_by_role("button", name="保存草稿").click()
        await editor.get_by_role("status").get_by_text("草稿已保存").wait_for()

    api = await staff(curation_bot, "小编")
    status, entry = await api.get(f"/api/kb/entries/{GUIDE_ID}")
    assert status == 200
    [row] = entry["draft"]["data"]["cross_region"]
    assert row["scope"] == "省内通办" and row["ways"] == ["全程网办", "异地窗口"]
    assert row["where"] == "山东省内任一派出所户籍窗口" and not row.get("regions")
