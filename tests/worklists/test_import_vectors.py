"""An import's sentence vectors are encoded in the background (issue #16 item 3, issue #12 item 5):
the console's commit returns before them, the page's progress endpoint shows the encoding and its
end, and the imported questions are found by their words meanwhile.  The real encoder; its worker
threads wait at a gate until the test has looked at the state during the encoding."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
from pathlib import Path

import aiohttp
import pytest

from bot import curation
from knowledge_base import vector_builder

ROWS = 40  # 80 texts: more than a search encodes inline (dense.INLINE_TEXTS)


def export_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["问题", "答案"])
    for i in range(ROWS):
        writer.writerow(
            [
                f"蜂农第{i + 1}批养蜂补贴怎么申领",
                f"第{i + 1}批养蜂补贴由区农业农村局受理，带身份证和养殖证明到窗口申领。",
            ]
        )
    writer.writerow(["没有答案的问题", ""])
    return out.getvalue().encode("utf-8")


async def test_an_import_returns_before_its_vectors_and_the_page_sees_them_arrive(
    start_bot, staff, kb_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vector_builder, "_BUILDERS", {})
    gate = threading.Event()
    builder = vector_builder.builder_for(kb_copy)
    monkeypatch.setattr(builder, "factory", lambda: (gate.wait(120), vector_builder._take_default())[1])
    bot = await start_bot()
    reviewer = await staff(bot, "审核人老张", "reviewer")
    headers = {"X-CSRF-Token": reviewer.csrf, "Content-Type": "application/octet-stream"}
    async with reviewer.http.post(
        f"{bot.url}/api/kb/transfer/check?name=export.csv", data=export_csv(), headers=headers
    ) as response:
        report = await response.json()
    assert report["ok"] and report["entries"] == ROWS and len(report["skipped"]) == 1
    status, done = await reviewer.post(
        "/api/kb/transfer/commit", {"upload": report["upload"], "confirm_duplicates": True}
    )
    assert status == 200 and len(done["added"]) == ROWS

    status, progress = await reviewer.get("/api/kb/transfer/vectors")
    assert status == 200, progress
    assert progress["state"] == "encoding" and progress["running"] and progress["entries_waiting"] == ROWS
    # Found by its words while its vectors wait.
    kb = curation.curation_of(bot.app).kb
    [hit] = await kb.search("蜂农第7批养蜂补贴怎么申领", top_k=1)
    assert hit.title == "蜂农第7批养蜂补贴怎么申领"

    gate.set()
    for _ in range(600):
        status, progress = await reviewer.get("/api/kb/transfer/vectors")
        if progress["state"] == "done" and not progress["running"]:
            break
        await asyncio.sleep(0.5)
    assert progress["state"] == "done" and progress["entries_waiting"] == 0, progress
    assert progress["texts_done"] == progress["texts_total"] >= 2 * ROWS
    assert progress["entries_ready"] == progress["entries_total"]

    # An editor may watch it too; a citizen's browser may not.
    editor = await staff(bot, "编辑小王", "editor")
    assert (await editor.get("/api/kb/transfer/vectors"))[0] == 200
    async with aiohttp.ClientSession() as outsider:
        async with outsider.get(f"{bot.url}/api/kb/transfer/vectors") as refused:
            assert refused.status in (401, 403)
