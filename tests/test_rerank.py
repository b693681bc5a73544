"""Re-ranking inside a family (search/rerank.py): a guide and its own Q&As swap places by how much
of their own wording the question says; other hits never move and every hit keeps its score."""

from pathlib import Path

from knowledge_base.documents import WORDING_SEPARATOR, to_document
from knowledge_base.models import QA
from knowledge_base.search.embedded import EmbeddedSearch
from knowledge_base.search.rerank import Candidate, fit, load_term_statistics, rerank, wordings
from knowledge_base.store import Store

SEP = f" {WORDING_SEPARATOR} "


def flat(term: str) -> float:
    return 1.0


def guide(entry_id: str, title: str, score: float) -> Candidate:
    return Candidate(entry_id, "guide", entry_id, {"title": title}, score)


def qa(entry_id: str, family: str, question: str, score: float, similar: str = "") -> Candidate:
    return Candidate(entry_id, "qa", family, {"title": question, "questions": similar}, score)


def test_wordings_are_split_per_field_and_per_wording():
    candidate = qa("qa.x", "guide.x", "孩子 转学", 1.0, similar=f"转学 外省{SEP}学籍 转")
    assert wordings("qa", candidate.field_terms) == [
        frozenset({"孩子", "转学"}),
        frozenset({"转学", "外省"}),
        frozenset({"学籍", "转"}),
    ]
    # A guide's wordings are its title and aliases only, not its FAQ questions.
    assert wordings("guide", {"title": f"转学{SEP}孩子 转学", "questions": "外省"}) == [
        frozenset({"转学"}),
        frozenset({"孩子", "转学"}),
    ]


def test_fit_is_the_best_weighted_share_of_one_wording():
    candidate = qa("qa.x", "guide.x", "孩子 转学 外省 学籍", 1.0, similar="转学 手续")
    assert fit(frozenset({"转学", "手续"}), candidate, flat) == 1.0
    assert fit(frozenset({"孩子"}), candidate, flat) == 0.25
    # Rare words weigh more: "外省" carries most of the first wording.
    idf = {"孩子": 1.0, "转学": 1.0, "外省": 6.0, "学籍": 2.0, "手续": 1.0}.__getitem__
    assert fit(frozenset({"外省"}), qa("qa.x", "g", "孩子 转学 外省 学籍", 1.0), idf) == 0.6


def test_a_guide_named_in_full_overtakes_a_more_specific_qa_of_its_own():
    # "孩子转学要啥手续": the Q&A about another province scores a little higher, but its question
    # says much the citizen did not; the guide's alias "孩子 转学" is said in full.
    specific = qa("qa.transfer-province", "guide.transfer", "孩子 转学 外省 学籍", 16.9)
    general = guide("guide.transfer", f"义务教育 学生 转学{SEP}孩子 转学", 16.0)
    ranked = rerank([specific, general], ["孩子", "转学", "手续"], flat)
    assert [c.id for c in ranked] == ["guide.transfer", "qa.transfer-province"]
    assert [c.score for c in ranked] == [16.0, 16.9]  # scores are the backend's, unchanged


def test_a_clear_lead_is_kept():
    specific = qa("qa.transfer-province", "guide.transfer", "孩子 转学 外省 学籍", 30.0)
    general = guide("guide.transfer", f"义务教育 学生 转学{SEP}孩子 转学", 16.0)
    ranked = rerank([specific, general], ["孩子", "转学", "手续"], flat)
    assert [c.id for c in ranked] == ["qa.transfer-province", "guide.transfer"]


def test_other_families_keep_their_places():
    other = qa("qa.other", "guide.other", "户口 迁移", 20.0)
    specific = qa("qa.transfer-province", "guide.transfer", "孩子 转学 外省 学籍", 16.9)
    between = guide("guide.between", "户口", 16.5)
    general = guide("guide.transfer", f"学生 转学{SEP}孩子 转学", 16.0)
    ranked = rerank([other, specific, between, general], ["孩子", "转学", "户口"], flat)
    # The family's two places (2nd and 4th) are swapped between its members; 1st and 3rd stay.
    assert [c.id for c in ranked] == ["qa.other", "guide.transfer", "guide.between", "qa.transfer-province"]


def test_only_the_first_hits_are_reranked():
    specific = qa("qa.s", "guide.g", "孩子 转学 外省 学籍", 16.9)
    general = guide("guide.g", "孩子 转学", 16.0)
    fillers = [guide(f"guide.f{n}", "其他", 16.5) for n in range(3)]
    ranked = rerank([specific, *fillers, general], ["孩子", "转学"], flat, depth=4)
    assert [c.id for c in ranked] == ["qa.s", "guide.f0", "guide.f1", "guide.f2", "guide.g"]


def test_separators_leave_bm25f_scores_unchanged(tmp_path: Path):
    # The separator is no term: a row with wordings split by it scores as the same terms unsplit.
    store = Store(tmp_path / "kb.sqlite3")
    entry = QA(
        id="qa.test.one",
        domain="general",
        question="低保怎么申请",
        similar=["吃低保", "低保在哪办", "办低保"],
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
    store.upsert([entry, linked])
    terms = to_document(entry).terms()
    assert terms["questions"].count(WORDING_SEPARATOR) == 2
    index = EmbeddedSearch(store).current_index()
    assert WORDING_SEPARATOR not in index.vocabulary
    statistics = load_term_statistics(store)
    # A Q&A's family is its guide (read from the entry); without a guide, the entry itself.
    assert statistics.entries == 2
    assert statistics.family == {"qa.test.one": "qa.test.one", "qa.test.two": "guide.test.dibao"}
    assert {row.id: row.family for row in index.rows} == statistics.family
    assert abs(statistics.idf("低保") - index.idf("低保")) < 1e-9
    store.close()
