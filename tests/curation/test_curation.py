"""knowledge_base.curation on a real SQLite store loaded from the curated data files."""

from __future__ import annotations

import json
import sqlite3

import pytest
from curation_helpers import (
    ADMIN,
    EDITOR,
    EDITOR_2,
    GUIDE_ID,
    HELPER,
    QA_ID,
    REVIEWER,
    REVIEWER_2,
    open_curation,
    published,
    with_fee,
)

from knowledge_base.curation import (
    MAX_TEXT_CHARS,
    ConflictError,
    CurationError,
    EntryFilter,
    InvalidEntryError,
    NotAllowedError,
    NotFoundError,
    StaleError,
    TransitionError,
    curated_ids,
)
from knowledge_base.kb import KnowledgeBase


def snapshot(kb: KnowledgeBase) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the entries and curation tables: 'nothing changed' is checked against this."""
    db = kb.store.connection()
    tables = ["entries", "kb_revisions", "kb_archived", "kb_audit", "meta"]
    return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables}


async def fee_answer(kb: KnowledgeBase) -> str | None:
    hits = await kb.search("第一次办身份证要多少钱", kinds=["guide"])
    assert hits and hits[0].id == GUIDE_ID
    return kb.element(GUIDE_ID, "fee")


async def test_draft_review_publish_changes_search_and_history(kb: KnowledgeBase) -> None:
    curation = open_curation(kb)
    data, version = published(kb, GUIDE_ID)
    assert "工本费20元" in (await fee_answer(kb) or "")

    draft = curation.save_draft(with_fee(data, "工本费25元/证"), version, None, EDITOR)
    assert (draft.state, draft.edit, draft.base_version) == ("draft", 1, version)
    assert "工本费20元" in (await fee_answer(kb) or "")  # a draft is not published
    submitted = curation.submit(GUIDE_ID, draft.edit, EDITOR)
    assert submitted.state == "in_review"
    assert [item["revision"]["id"] for item in curation.review_queue()] == [draft.id]

    new_version = await curation.approve(GUIDE_ID, submitted.edit, REVIEWER, note="核对过收费文件")
    assert new_version == version + 1
    assert "工本费25元" in (await fee_answer(kb) or "")
    assert curation.open_revision(GUIDE_ID) is None

    history = curation.history(GUIDE_ID)
    assert history["versions"] == [new_version, version]
    assert [r["state"] for r in history["revisions"]] == ["superseded", "published"] or [
        r["state"] for r in history["revisions"]
    ] == ["published", "superseded"]
    changes = curation.diff_versions(GUIDE_ID, version, new_version)
    assert [(c["path"], c["before"], c["after"]) for c in changes] == [
        ("fee.standard", "工本费20元/证", "工本费25元/证")
    ]
    actions = [item["action"] for item in curation.audit(entry_id=GUIDE_ID)["items"]]
    assert actions == ["approve", "submit", "save_draft"]


async def test_reviewer_cannot_approve_own_change_unless_allowed(kb: KnowledgeBase) -> None:
    curation = open_curation(kb)
    data, version = published(kb, GUIDE_ID)
    draft = curation.save_draft(with_fee(data, "工本费25元/证"), version, None, REVIEWER)
    submitted = curation.submit(GUIDE_ID, draft.edit, REVIEWER)
    before = snapshot(kb)
    with pytest.raises(NotAllowedError, match="不能批准自己"):
        await curation.approve(GUIDE_ID, submitted.edit, REVIEWER)
    with pytest.raises(NotAllowedError):  # an editor may never approve
        await curation.approve(GUIDE_ID, submitted.edit, EDITOR)
    assert snapshot(kb) == before
    curation.allow_self_approval = True
    assert await curation.approve(GUIDE_ID, submitted.edit, REVIEWER) == version + 1


async def test_reviewer_who_edited_a_draft_cannot_approve_it(kb: KnowledgeBase) -> None:
    curation = open_curation(kb)
    data, version = published(kb, GUIDE_ID)
    first = curation.save_draft(with_fee(data, "工本费25元/证"), version, None, EDITOR)
    edited = curation.save_draft(with_fee(data, "工本费26元/证"), version, first.edit, REVIEWER)
    submitted = curation.submit(GUIDE_ID, edited.edit, EDITOR)
    with pytest.raises(NotAllowedError):
        await curation.approve(GUIDE_ID, submitted.edit, REVIEWER)
    assert await curation.approve(GUIDE_ID, submitted.edit, REVIEWER_2) == version + 1


async def test_two_editors_second_save_conflicts_and_loses_nothing(kb: KnowledgeBase) -> None:
    curation = open_curation(kb)
    data, version = published(kb, GUIDE_ID)
    # Both open the entry (no draft yet), both edit; the first save wins.
    first = curation.save_draft(with_fee(data, "工本费21元/证"), version, None, EDITOR)
    before = snapshot(kb)
    with pytest.raises(ConflictError) as refused:
        curation.save_draft(with_fee(data, "工本费22元/证"), version, None, EDITOR_2)
    assert snapshot(kb) == before
    stored = refused.value.details["draft"]
    assert stored["edit"] == first.edit and stored["data"]["fee"]["standard"] == "工本费21元/证"
    assert refused.value.details["published"]["version"] == version
    assert "小编" in refused.value.message
    # The second editor, having seen the stored draft, saves on top of it.
    second = curation.save_draft(with_fee(data, "工本费22元/证"), version, stored["edit"], EDITOR_2)
    assert second.edit == first.edit + 1 and second.id == first.id
    # The first editor's stale edit counter now conflicts in turn.
    with pytest.raises(ConflictError):
        curation.save_draft(with_fee(data, "工本费23元/证"), version, first.edit, EDITOR)


async def test_save_conflicts_when_published_version_moved_on(kb: KnowledgeBase) -> None:
    curation = open_curation(kb)
    data, version = published(kb, QA_ID)
    await curation.add_similar_question(QA_ID, "公司起名字要查重吗", EDITOR_2)
    changed = dict(data, answer="新的答案。")
    with pytest.raises(ConflictError) as refused:
        curation.save_draft(changed, version, None, EDITOR)
    assert refused.value.details["published"]["version"] == version + 1
    assert "公司起名字要查重吗" in refused.value.details["published"]["data"]["similar"]


async def test_stale_approval_is_refused(kb: KnowledgeBase) -> None:
    curation = open_curation(kb)
    data, version = published(kb, QA_ID)
    draft = curation.save_draft(dict(data, answer="按新规定办理。"), version, None, EDITOR)
    submitted = curation.submit(QA_ID, draft.edit, EDITOR)
    await curation.add_similar_question(QA_ID, "名字查重怎么弄", EDITOR_2)  # published meanwhile
    before = snapshot(kb)
    with pytest.raises(StaleError, match=f"第 {version} 版"):
        await curation.approve(QA_ID, submitted.edit, REVIEWER)
    assert snapshot(kb) == before
    # An approval of what the reviewer no longer sees (the draft changed) is refused too.
    rejected = curation.reject(QA_ID, submitted.edit, REVIEWER, "请基于最新版本修改")
    assert rejected.state == "rejected" and rejected.note == "请基于最新版本修改"
    with pytest.raises(ConflictError):
        await curation.approve(QA_ID, submitted.edit, REVIEWER)


async def test_reject_then_resubmit(kb: KnowledgeBase) -> None:
    curation = open_curation(kb)
    data, version = published(kb, GUIDE_ID)
    draft = curation.save_draft(with_fee(data, "工本费25元/证"), version, None, EDITOR)
    submitted = curation.submit(GUIDE_ID, draft.edit, EDITOR)
    with pytest.raises(CurationError, match="原因"):
        curation.reject(GUIDE_ID, submitted.edit, REVIEWER, "  ")
    rejected = curation.reject(GUIDE_ID, submitted.edit, REVIEWER, "请附上收费依据")
    assert curation.list_entries(EntryFilter(state="rejected"))["entries"][0]["id"] == GUIDE_ID
    with pytest.raises(TransitionError):
        await curation.approve(GUIDE_ID, rejected.edit, REVIEWER)
    again = curation.save_draft(with_fee(data, "工本费25元/证（2027年起）"), version, rejected.edit, EDITOR)
    assert again.state == "draft"
    resubmitted = curation.submit(GUIDE_ID, again.edit, EDITOR)
    assert await curation.approve(GUIDE_ID, resubmitted.edit, REVIEWER) == version + 1


async def test_invalid_transitions_change_nothing(kb: KnowledgeBase) -> None:
    curation = open_curation(kb)
    data, version = published(kb, GUIDE_ID)
    before = snapshot(kb)
    with pytest.raises(NotFoundError):
        curation.submit(GUIDE_ID, None, EDITOR)
    with pytest.raises(NotFoundError):
        await curation.approve(GUIDE_ID, None, REVIEWER)
    with pytest.raises(NotAllowedError):
        curation.save_draft(data, version, None, HELPER)
    with pytest.raises(NotAllowedError):
        await curation.rollback(GUIDE_ID, 1, EDITOR)
    with pytest.raises(TransitionError):
        await curation.rollback(GUIDE_ID, version, REVIEWER)  # already current
    assert snapshot(kb) == before
    same = curation.save_draft(data, version, None, EDITOR)
    with pytest.raises(TransitionError, match="相同"):
        curation.submit(GUIDE_ID, same.edit, EDITOR)


async def test_validation_names_fields_and_limits_sizes(kb: KnowledgeBase) -> None:
    curation = open_curation(kb)
    data, version = published(kb, GUIDE_ID)
    before = snapshot(kb)
    broken = dict(data, materials=[], fee={"charged": True})
    with pytest.raises(InvalidEntryError) as refused:
        curation.save_draft(broken, version, None, EDITOR)
    fields = {p["field"] for p in refused.value.details}
    assert {"materials", "fee.standard"} <= fields
    labels = {p["label"] for p in refused.value.details}
    assert {"申请材料", "收费标准"} <= labels

    huge = dict(data, summary="很长" * MAX_TEXT_CHARS)
    with pytest.raises(InvalidEntryError) as refused:
        curation.save_draft(huge, version, None, EDITOR)
    assert refused.value.details[0]["field"] == "summary" and "最多" in refused.value.details[0]["message"]
    many = dict(data, keywords=[f"词{i}" for i in range(500)])
    with pytest.raises(InvalidEntryError, match="超出限制"):
        curation.save_draft(many, version, None, EDITOR)
    with pytest.raises(InvalidEntryError):
        curation.save_draft({"kind": "nonsense", "id": "x"}, None, None, EDITOR)
    with pytest.raises(CurationError, match="说明太长"):
        curation.save_draft(data, version, None, EDITOR, note="长" * 600)
    assert snapshot(kb) == before


async def test_html_is_stored_and_published_as_plain_text(kb: KnowledgeBase) -> None:
    curation = open_curation(kb)
    data, version = published(kb, GUIDE_ID)
    script = '<script>alert("x")</script><b>工本费</b>&amp;20元'
    draft = curation.save_draft(with_fee(data, script), version, None, EDITOR)
    assert draft.data["fee"]["standard"] == script
    submitted = curation.submit(GUIDE_ID, draft.edit, EDITOR)
    await curation.approve(GUIDE_ID, submitted.edit, REVIEWER)
    assert (kb.element(GUIDE_ID, "fee") or "").startswith(script)


async def test_rollback_publishes_an_old_version_as_new_and_is_audited(kb: KnowledgeBase) -> None:
    curation = open_curation(kb)
    data, version = published(kb, GUIDE_ID)
    draft = curation.save_draft(with_fee(data, "工本费25元/证"), version, None, EDITOR)
    await curation.approve(GUIDE_ID, curation.submit(GUIDE_ID, draft.edit, EDITOR).edit, REVIEWER)
    rolled = await curation.rollback(GUIDE_ID, version, ADMIN, note="收费文件未生效")
    assert rolled == version + 2
    assert "工本费20元" in (await fee_answer(kb) or "")
    assert curation.diff_versions(GUIDE_ID, version, rolled) == []
    last = curation.audit(entry_id=GUIDE_ID)["items"][0]
    assert (last["action"], last["actor"], last["version"]) == ("rollback", ADMIN.name, rolled)
    assert last["detail"]["to_version"] == version and last["detail"]["note"] == "收费文件未生效"


async def test_archive_and_restore(kb: KnowledgeBase) -> None:
    curation = open_curation(kb)
    data, version = published(kb, QA_ID)
    draft = curation.save_draft(dict(data, answer="草稿中的答案。"), version, None, EDITOR)
    with pytest.raises(NotAllowedError):
        await curation.archive(QA_ID, EDITOR)
    await curation.archive(QA_ID, REVIEWER, note="政策取消")
    assert kb.store.get(QA_ID) is None
    assert QA_ID not in [h.id for h in await kb.search(data["question"], top_k=10)]
    assert curation.get_entry(QA_ID)["status"] == "archived"
    assert curation.revision(draft.id).state == "superseded"  # the open draft was closed
    with pytest.raises(TransitionError, match="归档"):
        curation.save_draft(data, None, None, EDITOR)
    assert [e["id"] for e in curation.list_entries(EntryFilter(state="archived"))["entries"]] == [QA_ID]
    restored = await curation.restore(QA_ID, REVIEWER)
    assert restored == version + 1  # numbering continues
    assert QA_ID in [h.id for h in await kb.search(data["question"], top_k=10)]
    assert curation.history(QA_ID)["versions"][0] == restored


async def test_add_similar_question_improves_search_at_once(kb: KnowledgeBase) -> None:
    curation = open_curation(kb)
    wording = "商号撞名咋整"
    hits = await kb.search(wording, top_k=3)
    assert QA_ID not in [h.id for h in hits][:1]
    _, version = published(kb, QA_ID)
    assert await curation.add_similar_question(QA_ID, wording, EDITOR) == version + 1
    assert (await kb.search(wording, top_k=3))[0].id == QA_ID
    with pytest.raises(CurationError, match="已经有"):
        await curation.add_similar_question(QA_ID, wording, EDITOR)
    with pytest.raises(NotAllowedError):
        await curation.add_similar_question(QA_ID, "另一个问法", HELPER)
    item = curation.audit(action="add_similar_question")["items"][0]
    assert item["detail"]["text"] == wording and item["actor"] == EDITOR.name


async def test_publish_direct_refuses_a_stale_or_new_entry(kb: KnowledgeBase) -> None:
    curation = open_curation(kb)
    data, version = published(kb, QA_ID)
    with pytest.raises(NotFoundError):
        await curation.publish_direct(dict(data, id="qa.brand-new"), EDITOR, "fix_typo", None)
    fixed = dict(data, answer="修正后的答案。")
    assert await curation.publish_direct(fixed, EDITOR, "fix_typo", "错别字") == version + 1
    item = curation.audit(entry_id=QA_ID)["items"][0]
    assert (item["action"], item["detail"]["note"]) == ("fix_typo", "错别字")


async def test_new_entry_lifecycle_and_filters(kb: KnowledgeBase) -> None:
    curation = open_curation(kb)
    new = {
        "kind": "qa",
        "id": "qa.test.new-question",
        "domain": "business",
        "question": "测试新问题怎么办理",
        "similar": ["测试问法一", "测试问法二", "测试问法三"],
        "answer": "这是测试答案。",
        "department": "测试局",
    }
    draft = curation.save_draft(new, None, None, EDITOR)
    listed = curation.list_entries(EntryFilter(state="new"))
    assert [e["id"] for e in listed["entries"]] == [new["id"]]
    assert curation.list_entries(EntryFilter(text="测试新问题"))["total"] == 1
    with pytest.raises(ConflictError):  # another editor starts the same id
        curation.save_draft(new, None, None, EDITOR_2)
    submitted = curation.submit(new["id"], draft.edit, EDITOR)
    assert curation.list_entries(EntryFilter(state="in_review", department="测试局"))["total"] == 1
    assert await curation.approve(new["id"], submitted.edit, REVIEWER) == 1
    assert (await kb.search("测试新问题怎么办理"))[0].id == new["id"]
    assert curation.list_entries(EntryFilter(state="published", domain="business", text="测试新问题"))["total"] == 1
    with pytest.raises(CurationError):
        curation.list_entries(EntryFilter(state="bogus"))


async def test_publish_and_its_audit_commit_together(kb: KnowledgeBase) -> None:
    """A failure while recording the revision rolls the publish back too."""
    curation = open_curation(kb)
    data, version = published(kb, GUIDE_ID)
    draft = curation.save_draft(with_fee(data, "工本费25元/证"), version, None, EDITOR)
    submitted = curation.submit(GUIDE_ID, draft.edit, EDITOR)
    kb.store.connection().execute("ALTER TABLE kb_audit RENAME TO kb_audit_away")
    with pytest.raises(sqlite3.OperationalError):
        await curation.approve(GUIDE_ID, submitted.edit, REVIEWER)
    kb.store.connection().execute("ALTER TABLE kb_audit_away RENAME TO kb_audit")
    assert kb.store.version(GUIDE_ID) == version
    assert "工本费20元" in (await fee_answer(kb) or "")
    assert curation.open_revision(GUIDE_ID).state == "in_review"  # type: ignore[union-attr]


async def test_load_data_dir_keeps_staff_edits(kb: KnowledgeBase) -> None:
    curation = open_curation(kb)
    data, version = published(kb, GUIDE_ID)
    draft = curation.save_draft(with_fee(data, "工本费25元/证"), version, None, EDITOR)
    await curation.approve(GUIDE_ID, curation.submit(GUIDE_ID, draft.edit, EDITOR).edit, REVIEWER)
    await curation.archive(QA_ID, REVIEWER)
    assert curated_ids(kb.store) == {GUIDE_ID, QA_ID}

    report = await kb.load_data_dir()  # what `make run` does on every start
    assert report.kept == sorted([GUIDE_ID, QA_ID])
    assert not report.updated and not report.added
    assert "工本费25元" in (kb.element(GUIDE_ID, "fee") or "")
    assert kb.store.get(QA_ID) is None  # archived stays archived

    report = await kb.load_data_dir(prune=True)
    assert report.kept == sorted([GUIDE_ID, QA_ID]) and not report.removed
    row = kb.store.connection().execute("SELECT data FROM entries WHERE id = ?", (GUIDE_ID,)).fetchone()
    assert json.loads(row[0])["fee"]["standard"] == "工本费25元/证"


async def test_load_data_dir_keeps_entries_created_in_the_console(kb: KnowledgeBase) -> None:
    curation = open_curation(kb)
    new = {
        "kind": "qa",
        "id": "qa.test.console-only",
        "domain": "business",
        "question": "控制台新建的问题",
        "similar": ["问法甲", "问法乙", "问法丙"],
        "answer": "答案。",
    }
    draft = curation.save_draft(new, None, None, EDITOR)
    await curation.approve(new["id"], curation.submit(new["id"], draft.edit, EDITOR).edit, REVIEWER)
    report = await kb.load_data_dir(prune=True)
    assert new["id"] in report.kept and new["id"] not in report.removed
    assert kb.store.get(new["id"]) is not None
