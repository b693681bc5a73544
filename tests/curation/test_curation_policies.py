"""惠企政策 entries curated like every other entry: a new policy as a draft, refused with Chinese
field labels when wrong, submitted, approved by a reviewer and published; an edit of a sample
policy shows in the diff under the policy's own labels (real bot service, SQLite, login)."""

from __future__ import annotations

from typing import Any

NEW_ID = "policy.jiyang-test-award"
SAMPLE_ID = "policy.jiyang-food-upgrade"


def new_policy(**changes: Any) -> dict[str, Any]:
    data = {
        "kind": "policy",
        "id": NEW_ID,
        "title": "济阳区测试奖励（示例）",
        "department": "济阳区工业和信息化局",
        "level": "区",
        "summary": "测试用的示例政策。",
        "criteria": {"sizes": ["小型", "微型"], "places": ["济阳区"], "min_years": 1},
        "benefit": "一次性奖励1万元（示例金额）。",
        "apply": "向区工业和信息化局申请。",
        "deadline": "2027-12-31",
        "auto": False,
        "source": "示例政策，测试用",
    }
    data.update(changes)
    return data


async def test_a_new_policy_is_drafted_reviewed_and_published(curation_bot: Any, staff: Any) -> None:
    editor = await staff(curation_bot, "小编")
    reviewer = await staff(curation_bot, "审核甲")
    bad = new_policy(deadline="年底", criteria={"sizes": ["超大"]})
    status, refused = await editor.post(f"/api/kb/entries/{NEW_ID}/draft", {"data": bad})
    assert status == 422, refused
    labels = {d["field"]: d["label"] for d in refused["error"]["details"]}
    assert labels == {"deadline": "截止日期", "criteria.sizes[0]": "享受条件·企业规模"}

    status, saved = await editor.post(f"/api/kb/entries/{NEW_ID}/draft", {"data": new_policy()})
    assert status == 200, saved
    status, submitted = await editor.post(f"/api/kb/entries/{NEW_ID}/submit", {"expected_edit": saved["draft"]["edit"]})
    assert status == 200 and submitted["draft"]["state"] == "in_review"
    status, queue = await reviewer.get("/api/kb/review")
    [item] = [i for i in queue["items"] if i["revision"]["entry_id"] == NEW_ID]
    assert {c["path"]: c["label"] for c in item["changes"]}["criteria.min_years"] == "享受条件·成立满几年"
    status, approved = await reviewer.post(
        f"/api/kb/entries/{NEW_ID}/approve", {"expected_edit": submitted["draft"]["edit"]}
    )
    assert status == 200, approved

    status, listed = await editor.get("/api/kb/entries?kind=policy&limit=100")
    assert status == 200
    rows = {row["id"]: row for row in listed["entries"]}
    assert rows[NEW_ID]["status"] == "published" and rows[NEW_ID]["department"] == "济阳区工业和信息化局"
    assert SAMPLE_ID in rows
    status, meta = await editor.get("/api/kb/meta")
    assert meta["enterprise_sizes"] == ["微型", "小型", "中型", "大型"] and "济阳区" in meta["places"]


async def test_an_edited_sample_policy_shows_its_changes_by_label(curation_bot: Any, staff: Any) -> None:
    editor = await staff(curation_bot, "小编")
    status, entry = await editor.get(f"/api/kb/entries/{SAMPLE_ID}")
    assert status == 200, entry
    data, version = entry["published"]["data"], entry["published"]["version"]
    changed = {**data, "deadline": "2027-12-31", "auto": True}
    status, saved = await editor.post(
        f"/api/kb/entries/{SAMPLE_ID}/draft", {"data": changed, "base_version": version, "expected_edit": None}
    )
    assert status == 200, saved
    status, diff = await editor.get(f"/api/kb/entries/{SAMPLE_ID}/diff?from={version}&to=draft")
    assert status == 200, diff
    assert {(c["path"], c["label"]) for c in diff["changes"]} == {("deadline", "截止日期"), ("auto", "免申即享")}
