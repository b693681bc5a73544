"""The guide-first rule (search/rerank.py): when a question says only the name of a matter, the
matter's guide comes before its own Q&As; nothing else moves and every hit keeps its score."""

from pathlib import Path

import pytest

from knowledge_base.kb import KnowledgeBase
from knowledge_base.models import QA
from knowledge_base.search.embedded import EmbeddedSearch
from knowledge_base.search.rerank import Candidate, is_title_only, load_families, rerank
from knowledge_base.store import Store


def guide(entry_id: str, title_terms: str, score: float) -> Candidate:
    return Candidate(entry_id, "guide", entry_id, title_terms, score)


def qa(entry_id: str, family: str, title_terms: str, score: float) -> Candidate:
    return Candidate(entry_id, "qa", family, title_terms, score)


def ids(candidates: list[Candidate]) -> list[str]:
    return [c.id for c in candidates]


def test_a_question_naming_only_the_matter_gets_the_guide_first():
    materials = qa("qa.birth-materials", "guide.birth", "新生儿 新生 生儿 报 户口 申请材料", 27.4)
    birth = guide("guide.birth", "出生 登记 报 户口 新生儿 新生 生儿 上 户口 孩子", 27.2)
    ranked = rerank([materials, birth], ["新生儿", "新生", "生儿", "上", "户口"])
    assert ids(ranked) == ["guide.birth", "qa.birth-materials"]
    assert [c.score for c in ranked] == [27.2, 27.4]  # scores are the backend's, unchanged


def test_a_more_specific_question_keeps_the_score_order():
    # "抵押 登记 银行": 银行 is none of the guide's names, so the Q&A about banks may stay first.
    at_bank = qa("qa.mortgage-at-bank", "guide.mortgage", "房贷 抵押 登记 银行", 16.2)
    mortgage = guide("guide.mortgage", "不动产 抵押 登记 房子 抵押 办 抵押", 16.1)
    assert ids(rerank([at_bank, mortgage], ["银行", "抵押", "登记"])) == ["qa.mortgage-at-bank", "guide.mortgage"]


def test_the_guide_takes_its_familys_first_place_and_other_families_stay():
    other = qa("qa.other", "guide.other", "转学", 30.0)
    first = qa("qa.a", "guide.g", "孩子 转学 外省", 20.0)
    between = guide("guide.between", "孩子", 19.0)
    second = qa("qa.b", "guide.g", "孩子 转学 六年级", 18.0)
    own = guide("guide.g", "学生 转学 孩子 转学", 17.0)
    ranked = rerank([other, first, between, second, own], ["孩子", "转学"])
    # The family held places 2, 4 and 5: its guide moves to 2, its Q&As follow in their order.
    assert ids(ranked) == ["qa.other", "guide.g", "guide.between", "qa.a", "qa.b"]


def test_a_guide_alone_or_beyond_the_depth_is_not_moved():
    lone = [qa("qa.a", "guide.absent", "转学", 20.0), guide("guide.x", "转学", 19.0)]
    assert ids(rerank(lone, ["转学"])) == ["qa.a", "guide.x"]
    deep = [qa("qa.a", "guide.g", "转学 外省", 20.0), *(guide(f"guide.f{n}", "其他", 19.0) for n in range(3))]
    deep.append(guide("guide.g", "转学", 18.0))
    assert ids(rerank(deep, ["转学"], depth=4)) == ["qa.a", "guide.f0", "guide.f1", "guide.f2", "guide.g"]


def test_blank_query_changes_nothing():
    candidates = [qa("qa.a", "guide.g", "转学", 2.0), guide("guide.g", "转学", 1.0)]
    assert ids(rerank(candidates, [])) == ["qa.a", "guide.g"]


async def test_families_come_from_the_store_for_both_backends(tmp_path: Path):
    store = Store(tmp_path / "kb.sqlite3")
    plain = QA(
        id="qa.test.one",
        domain="general",
        question="低保怎么申请",
        similar=["吃低保", "办低保", "低保在哪办"],
        answer="去街道。",
    )
    linked = QA(
        id="qa.test.two",
        domain="general",
        question="低保多久批",
        similar=["低保审批", "低保几天", "低保时限"],
        answer="一个月。",
        guide="guide.test.dibao",
    )
    kb = KnowledgeBase(store)
    await kb.publish([plain, linked])
    families = load_families(store)
    # A Q&A's family is its guide; without a guide, the entry itself.
    assert dict(families.family) == {"qa.test.one": "qa.test.one", "qa.test.two": "guide.test.dibao"}
    assert families.generation == store.generation()
    index = EmbeddedSearch(store).current_index()
    assert {row.id: row.family for row in index.rows} == dict(families.family)
    await kb.close()


async def test_the_embedded_backend_applies_the_rule(tmp_path: Path):
    # The curated data: "新生儿上户口怎么办" names only the matter of the birth-registration guide.
    kb = KnowledgeBase(Store(tmp_path / "kb.sqlite3"))
    await kb.load_data_dir()
    hits = await kb.search("新生儿上户口怎么办", top_k=3)
    assert hits[0].id == "guide.birth-household-registration"
    assert "qa.identity.birth-registration-materials" in [h.id for h in hits]
    await kb.close()


# -- the title fit of title-only entries (real exports: no similar questions) ----------------------
def export_qa(entry_id: str, title_terms: str, score: float) -> Candidate:
    return Candidate(entry_id, "qa", entry_id, title_terms, score, title_only=True)


def test_a_title_only_entry_whose_title_the_question_covers_wins():
    # Same matter, two aspects; the question asks about the matter, not its materials.
    overview = export_qa("qa.x.rent", "住房公积金 提取 租房", 20.0)
    materials = export_qa("qa.x.rent-materials", "住房公积金 提取 租房 申请材料", 20.5)
    assert ids(rerank([materials, overview], ["租房", "住房公积金", "提取"])) == ["qa.x.rent", "qa.x.rent-materials"]
    # Asked about the materials, the materials entry covers more of its title and stays first.
    ranked = rerank([materials, overview], ["租房", "住房公积金", "提取", "申请材料"])
    assert ids(ranked) == ["qa.x.rent-materials", "qa.x.rent"]
    assert ranked[0].score == 20.5  # nothing missing: the backend's score


def test_entries_with_similar_questions_keep_their_scores():
    curated = qa("qa.curated", "qa.curated", "住房公积金 提取 租房 申请材料", 20.5)
    overview = export_qa("qa.x.rent", "住房公积金 提取 租房", 20.0)
    ranked = rerank([curated, overview], ["租房", "住房公积金", "提取"])
    assert ids(ranked) == ["qa.curated", "qa.x.rent"]
    assert [c.score for c in ranked] == [20.5, pytest.approx(20.0)]


async def test_both_steps_know_a_title_only_entry_from_its_empty_questions_field(tmp_path: Path):
    kb = KnowledgeBase(Store(tmp_path / "kb.sqlite3"))
    answer = "根据有关规定，租房提取住房公积金须提交身份证、租赁合同，承诺时限为即时办结，不收费。"
    await kb.publish(
        [
            QA(id="qa.x.rent", domain="housing_fund", question="公积金提取 租房", answer=answer),
            QA(id="qa.x.rent-materials", domain="housing_fund", question="公积金提取 租房 要件", answer=answer),
        ]
    )
    rows = {row.id: row for row in EmbeddedSearch(kb.store).current_index().rows}
    assert all(is_title_only(row.kind, row.field_terms) for row in rows.values())
    hits = await kb.search("租房子能提公积金吗", top_k=2)
    assert [h.id for h in hits] == ["qa.x.rent", "qa.x.rent-materials"]
    await kb.close()
