"""Element questions in a knowledge base of Q&As only (a district's imported export, issue #11):
without structured guides, "营业执照需要什么材料" is answered from the Q&A about that very point,
found with its element words kept, not from another Q&A of the same matter; and a bare element
follow-up ("要多少钱") after such an answer finds the Q&A about that element of the same matter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from actions_harness import Conversation, entity

from actions import knowledge
from actions.answers import ActionAnswer
from actions.texts import detect_element
from knowledge_base import KnowledgeBase
from knowledge_base.models import QA
from knowledge_base.store import Store

MATTERS = {"yyzz": "营业执照", "sbk": "社保卡", "jzz": "居住证", "hz": "护照办理", "gjj": "公积金提取"}
POINTS = {
    "how": "怎么办理",
    "materials": "需要什么材料",
    "fee": "要多少钱",
    "time": "多长时间能办好",
    "place": "在哪里办",
    "online": "可以网上办吗",
}


def export_entries() -> list[QA]:
    """Rows in the shape of an export: the question as title, one long-ish answer, no wordings."""
    return [
        QA(
            id=f"qa.export.{m}.{p}",
            domain="export",
            question=f"{matter}{point}",
            answer=f"关于{matter}{point}：请按当地规定准备，详情咨询济阳区政务服务中心相关窗口（第{i}条）。",
        )
        for m, matter in MATTERS.items()
        for i, (p, point) in enumerate(POINTS.items())
    ]


@pytest.fixture
def qa_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KnowledgeBase]:
    path = tmp_path / "export-kb.sqlite3"
    kb = KnowledgeBase(Store(path))
    kb.store.upsert(export_entries())
    monkeypatch.setenv("KB_DB", str(path))
    monkeypatch.setenv("KB_BACKEND", "embedded")
    monkeypatch.setenv("KB_DENSE", "false")
    knowledge.reset()
    yield kb
    knowledge.reset()
    kb.store.close()


async def ask_element(c: Conversation, text: str, element: str):
    return await c.say(ActionAnswer(), text, "ask_element", [entity("element", element)])


@pytest.mark.usefixtures("qa_only")
async def test_an_element_question_finds_the_qa_about_that_point_when_no_guide_exists() -> None:
    c = Conversation()
    reply = await ask_element(c, "营业执照需要什么材料", "materials")
    assert reply.payload("answer")["entry_id"] == "qa.export.yyzz.materials", reply.text
    assert "关于营业执照需要什么材料" in reply.text  # the Q&A's own answer, not "no guide" excuses
    reply = await ask_element(c, "社保卡办理要多少钱", "fee")
    assert reply.payload("answer")["entry_id"] == "qa.export.sbk.fee", reply.text


@pytest.mark.usefixtures("qa_only")
async def test_a_bare_element_follow_up_finds_the_same_matters_qa_about_it() -> None:
    c = Conversation()
    reply = await ask_element(c, "居住证需要什么材料", "materials")
    assert reply.payload("answer")["entry_id"] == "qa.export.jzz.materials", reply.text
    reply = await ask_element(c, "那要多少钱", "fee")
    assert reply.payload("answer")["entry_id"] == "qa.export.jzz.fee", reply.text


@pytest.fixture
def export_matters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[QA]]:
    """Two domains of the export-shaped corpus (bench/retrieval/export_corpus.py, SAMPLE): every
    matter under 16 aspects, titled by staff keywords, the siblings' long answers alike."""
    from bench.retrieval.export_corpus import build_export_corpus

    entries = [e for e in build_export_corpus() if e.domain in ("housing_fund", "household")]
    path = tmp_path / "export-matters.sqlite3"
    kb = KnowledgeBase(Store(path))
    kb.store.upsert(entries)
    monkeypatch.setenv("KB_DB", str(path))
    monkeypatch.setenv("KB_BACKEND", "embedded")
    monkeypatch.setenv("KB_DENSE", "false")
    knowledge.reset()
    yield entries
    knowledge.reset()
    kb.store.close()


async def test_a_question_asked_in_an_entrys_own_words_is_answered_with_it_at_once(export_matters: list[QA]) -> None:
    """The title itself, as a citizen copies it from a list of common questions: no "您想问的是"
    between the entry and its siblings (issue #16: the imported export's questions answered)."""
    asked = [e for e in export_matters if detect_element(e.question) is not None][::7]
    assert len(asked) >= 10
    got = {}
    for entry in asked:
        c = Conversation()
        element = detect_element(entry.question)
        reply = await ask_element(c, entry.question, element)
        answers = reply.payloads("answer")
        got[entry.question] = answers[0]["entry_id"] if answers else reply.text[:30]
    assert got == {e.question: e.id for e in asked}
