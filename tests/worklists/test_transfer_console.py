"""Import and export through the console's routes (real bot service, real SQLite store)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import yaml
from openpyxl import load_workbook

from knowledge_base.models import QA
from knowledge_base.store import Store

HEADER = ["question", "answer", "similar_questions"]
NEW_ROW = {
    "question": "养蜂有什么补贴政策",
    "answer": "请咨询区农业农村局。",
    "similar_questions": "养蜂补贴|蜜蜂补贴|养蜂有补助吗",
}


def sheet(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADER)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


async def upload(client, name: str, data: bytes) -> tuple[int, dict]:
    headers = {"X-CSRF-Token": client.csrf, "Content-Type": "application/octet-stream"}
    async with client.http.post(f"{client.bot.url}/api/kb/transfer/check?name={name}", data=data, headers=headers) as r:
        return r.status, await r.json()


async def test_a_file_with_bad_rows_is_reported_and_changes_nothing(start_bot, staff, kb_copy: Path):
    bot = await start_bot()
    reviewer = await staff(bot, "审核人老张", "reviewer")
    generation = Store(kb_copy).generation()
    bad = {"question": "", "answer": "缺问题", "similar_questions": "a|b|c"}
    status, report = await upload(reviewer, "rows.csv", sheet([NEW_ROW, bad]))
    assert status == 200 and report["ok"] is False
    [problem] = report["problems"]
    assert (problem["row"], problem["column"], problem["label"]) == ("row 3", "question", "第 3 行 标准问题")
    assert problem["reason"] and not any("a" <= ch <= "z" for ch in problem["reason"])  # Chinese, not pydantic's
    assert Store(kb_copy).generation() == generation
    # Publishing everything is refused while a row is bad; nothing changes.
    status, refused = await reviewer.post("/api/kb/transfer/commit", {"upload": report["upload"]})
    assert status == 422 and refused["committed"] is False
    assert Store(kb_copy).generation() == generation


async def test_check_then_commit_all_or_nothing_with_duplicates_confirmed(start_bot, staff, kb_copy: Path):
    bot = await start_bot()
    editor = await staff(bot, "编辑小王")
    reviewer = await staff(bot, "审核人老张", "reviewer")
    existing = next(e for e in Store(kb_copy).all("qa") if isinstance(e, QA))
    rows = [NEW_ROW, {"question": existing.question + "！", "answer": "另一个答案", "similar_questions": "x1|x2|x3"}]

    status, report = await upload(editor, "new.csv", sheet(rows))
    assert status == 200 and report["ok"] and len(report["added"]) == 2
    [dup] = report["duplicates"]
    assert dup["position"] == "row 3" and dup["other_id"] == existing.id and dup["match"] == "exact"
    # An editor may check, not commit.
    status, _ = await editor.post("/api/kb/transfer/commit", {"upload": report["upload"], "confirm_duplicates": True})
    assert status == 403
    # A reviewer must confirm the duplicates first.
    status, body = await reviewer.post("/api/kb/transfer/commit", {"upload": report["upload"], "name": "new.csv"})
    assert status == 409 and body["error"]["code"] == "duplicates"
    generation = Store(kb_copy).generation()
    assert Store(kb_copy).get(report["added"][0]) is None

    status, done = await reviewer.post(
        "/api/kb/transfer/commit", {"upload": report["upload"], "name": "new.csv", "confirm_duplicates": True}
    )
    assert status == 200 and done["committed"] and sorted(done["added"]) == sorted(report["added"])
    store = Store(kb_copy)
    assert store.generation() > generation
    assert store.get(report["added"][0]) is not None
    audit = (
        store.connection().execute("SELECT actor, action, entry_id FROM kb_audit WHERE action = 'import'").fetchall()
    )
    assert sorted(row[2] for row in audit) == sorted(report["added"]) and {row[0] for row in audit} == {"审核人老张"}
    # An import is a version like any other: it shows in the entry's history, by whom and from which file.
    status, history = await reviewer.get(f"/api/kb/entries/{report['added'][0]}/history")
    assert status == 200 and history["current_version"] == 1
    [revision] = history["revisions"]
    assert (revision["state"], revision["published_version"], revision["author"]) == ("published", 1, "审核人老张")
    assert "new.csv" in revision["note"]
    # The upload is used up.
    status, _ = await reviewer.post("/api/kb/transfer/commit", {"upload": report["upload"], "confirm_duplicates": True})
    assert status == 404


async def test_upload_errors_are_clear(start_bot, staff):
    bot = await start_bot()
    editor = await staff(bot, "编辑小王")
    status, body = await upload(editor, "notes.txt", b"hello")
    assert status == 400 and body["error"]["code"] == "bad_file_type"
    status, report = await upload(editor, "broken.xlsx", b"this is not a spreadsheet")
    assert status == 200 and report["ok"] is False and report["problems"][0]["row"] == "(file)"
    # Chinese column names of an export (问题, 答案) are understood; an unknown header is named clearly.
    status, report = await upload(editor, "header.csv", "标题,内容\n甲,乙\n".encode())
    assert status == 200 and not report["ok"] and "question" in report["problems"][0]["column"]
    assert "标准问题" in report["problems"][0]["reason"] or "标准问题" in report["problems"][0]["label"]


async def test_export_everything_or_a_filtered_set(start_bot, staff, kb_copy: Path):
    bot = await start_bot()
    editor = await staff(bot, "编辑小王")
    entries = Store(kb_copy).all()
    domain = next(e.domain for e in entries if e.kind == "qa")

    async with editor.http.get(f"{bot.url}/api/kb/transfer/export?format=yaml") as response:
        assert response.status == 200 and "attachment" in response.headers["Content-Disposition"]
        everything = yaml.safe_load(await response.text())
    sections = ("guides", "bundles", "qa", "centers", "terminals", "policies")  # every kind
    assert sum(len(everything[name]) for name in sections) == len(entries)

    async with editor.http.get(f"{bot.url}/api/kb/transfer/export?format=xlsx&kind=qa&domain={domain}") as response:
        assert response.status == 200
        book = load_workbook(io.BytesIO(await response.read()), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    expected = sorted(e.id for e in entries if e.kind == "qa" and e.domain == domain)
    assert sorted(row[0] for row in rows[1:]) == expected and rows[0][0] == "id"

    async with editor.http.get(f"{bot.url}/api/kb/transfer/export?format=csv&kind=guide") as response:
        assert response.status == 400
    async with editor.http.get(f"{bot.url}/api/kb/transfer/export?format=pdf") as response:
        assert response.status == 400
