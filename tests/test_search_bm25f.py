"""The embedded backend's in-memory BM25F index: per-field length normalisation, freshness across
Store instances, the kinds filter, empty queries and cheap snippets."""

from pathlib import Path

from knowledge_base.models import QA, Center
from knowledge_base.search.bm25f import Bm25fIndex, IndexRow
from knowledge_base.search.embedded import EmbeddedSearch
from knowledge_base.search.hits import first_match
from knowledge_base.store import Store


def row(entry_id: str, kind: str = "qa", **fields: str) -> IndexRow:
    return IndexRow(entry_id, kind, "test", entry_id, "答案", fields)


def test_a_short_exact_title_beats_a_long_row_per_field():
    # Both rows hold 居住证 once in the title.  The long row's other fields are long, which a
    # whole-row normalisation (FTS5's bm25) would hold against its title too; per field it must not,
    # and the short title wins only through its own field's length.
    short = row("a-short", title="居住证")
    long = row("b-long", title="居住证 办理 流程 说明 材料", content=" ".join(["其他"] * 200))
    index = Bm25fIndex([long, short], generation=0)
    ranked = [r.id for r, _ in index.top(["居住证"], 5)]
    assert ranked == ["a-short", "b-long"]


def test_per_field_normalisation_ignores_other_fields_lengths():
    # Same title; one row has a huge content field without the query term.  With b = 0 for titles
    # the title hit scores exactly the same in both rows.
    plain = row("a", title="居住证 申领")
    padded = row("b", title="居住证 申领", content=" ".join(["其他"] * 500))
    index = Bm25fIndex([plain, padded], generation=0)
    (_, first), (_, second) = index.top(["居住证"], 5)
    assert first == second > 0


def test_title_weighs_more_than_content():
    index = Bm25fIndex([row("a", content="居住证 其他"), row("b", title="居住证 其他")], generation=0)
    assert [r.id for r, _ in index.top(["居住证"], 5)] == ["b", "a"]


def test_kinds_filter_and_unknown_or_empty_terms():
    index = Bm25fIndex([row("a", "qa", title="低保"), row("b", "guide", title="低保 申请")], generation=0)
    assert [r.id for r, _ in index.top(["低保"], 5, kinds=["guide"])] == ["b"]
    assert [r.id for r, _ in index.top(["低保"], 5, kinds=["center"])] == []
    assert index.top([], 5) == [] and index.top(["不存在的词"], 5) == [] and index.top(["低保"], 0) == []


def test_top_k_cut_keeps_ties_in_id_order():
    index = Bm25fIndex([row(f"qa.{n}", title="低保") for n in (3, 1, 2)], generation=0)
    assert [r.id for r, _ in index.top(["低保"], 2)] == ["qa.1", "qa.2"]


def test_an_empty_store_searches_fine(tmp_path: Path):
    search = EmbeddedSearch(Store(tmp_path / "kb.sqlite3"))
    assert search.search_sync("低保怎么申请") == []
    assert search.search_sync("") == []


def new_qa(n: int, question: str) -> QA:
    return QA(
        id=f"qa.test.fresh-{n}",
        domain="test",
        question=question,
        similar=[f"{question}!", f"问{question}", f"{question}在哪"],
        answer=f"第{n}号答案。",
    )


def test_a_publish_through_another_store_is_seen_by_the_next_search(tmp_path: Path):
    db = tmp_path / "kb.sqlite3"
    reader = EmbeddedSearch(Store(db))
    writer = Store(db)  # another connection, as another process would have
    writer.upsert([new_qa(1, "蓝鲸测试事项怎么办理？")])
    assert [h.id for h in reader.search_sync("蓝鲸测试事项")] == ["qa.test.fresh-1"]
    writer.upsert([new_qa(2, "蓝鲸测试事项第二号？")])
    assert {h.id for h in reader.search_sync("蓝鲸测试事项")} == {"qa.test.fresh-1", "qa.test.fresh-2"}
    writer.remove(["qa.test.fresh-1"])
    assert [h.id for h in reader.search_sync("蓝鲸测试事项")] == ["qa.test.fresh-2"]
    # an unchanged store is not rebuilt
    index = reader.current_index()
    reader.search_sync("蓝鲸测试事项")
    assert reader.current_index() is index


def test_kinds_filter_through_the_backend(tmp_path: Path):
    store = Store(tmp_path / "kb.sqlite3")
    center = Center(
        id="center.test-whale",
        name="蓝鲸测试事项服务中心",
        level="镇",
        area="蓝鲸镇",
        address="蓝鲸路1号",
        hours="工作日 9:00-17:00",
        phone="0531-00000000",
        services=["蓝鲸测试事项"],
    )
    store.upsert([new_qa(1, "蓝鲸测试事项怎么办理？"), center])
    search = EmbeddedSearch(store)
    assert [h.id for h in search.search_sync("蓝鲸测试事项", kinds=["center"])] == ["center.test-whale"]
    assert {h.kind for h in search.search_sync("蓝鲸测试事项")} == {"center", "qa"}


def test_snippet_position_finds_synonym_spellings():
    # 社保卡 is folded to its canonical term at query time; the text may use either spelling.
    from knowledge_base.tokenizer import canonical

    term = canonical("社保卡")
    text = "办理须知：请携带社保卡原件。"
    assert first_match(text, [term]) == text.index("社保卡")
    assert first_match(text, ["不存在"]) == -1
