"""Entry vectors encoded in the background (knowledge_base/vector_builder.py) with the real encoder:
a large publish returns before its vectors, search stays lexical for entries without them and turns
hybrid as they arrive, an encoding cut short goes on where it stopped, and the worker threads'
vectors are the shared encoder's."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from test_dense import BIRTH, MOVE_OUT  # the same two Q&As the dense-stage tests use

from knowledge_base import embeddings, vector_builder
from knowledge_base.kb import KnowledgeBase
from knowledge_base.models import QA
from knowledge_base.search.dense import INLINE_TEXTS, DenseStage
from knowledge_base.search.embedded import EmbeddedSearch
from knowledge_base.store import Store
from knowledge_base.vector_builder import VectorBuilder, builder_for, encode_parallel, read_progress

NEWBORN_QUESTION = "刚生的宝宝户口要怎么办理"  # lexically the move-out entry; by meaning the birth one
MATTERS = ["养犬登记", "公租房申请", "渔船登记", "林木采伐", "古树保护", "河道采砂", "烟花燃放", "户外广告", "占道施工"]


def fillers() -> list[QA]:
    """Enough entries that their texts are more than a search encodes inline."""
    out = []
    for i in range(30):
        matter = MATTERS[i % len(MATTERS)]
        out.append(
            QA(
                id=f"qa.filler.{i}",
                domain="其他",
                question=f"{matter}第{i}项怎么申请",
                similar=[],
                answer=f"{matter}请到窗口{i}号咨询。",
            )
        )
    return out


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "_MEMO", {})  # nothing remembered from other tests
    monkeypatch.setattr(vector_builder, "_BUILDERS", {})


class Gate:
    """The real encoder behind a gate: the builder's threads wait until the test opens it, and
    every text they are asked for is counted."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.texts: list[str] = []
        self.calls = 0
        self.after_call: threading.Event | None = None  # set after the first call (to stop a run)

    def factory(self) -> embeddings.Encoder:
        real = vector_builder._take_default()  # not given back: the test's wrapper counts its calls
        gate = self

        class Gated:
            dim = real.dim
            _lib = real._lib

            def encode(self, texts: list[str], is_query: bool = False) -> np.ndarray:
                gate.open.wait(60)
                gate.texts.extend(texts)
                gate.calls += 1
                out = real.encode(texts, is_query)
                if gate.after_call is not None:
                    gate.after_call.set()
                return out

        return Gated()  # type: ignore[return-value]


def service_kb(path: Path) -> KnowledgeBase:
    store = Store(path)
    backend = EmbeddedSearch(store, dense=True)
    backend.background_vectors = True
    return KnowledgeBase(store, backend)


async def test_a_large_publish_returns_at_once_and_search_turns_hybrid_as_vectors_arrive(tmp_path: Path) -> None:
    path = tmp_path / "kb.sqlite3"
    gate = Gate()
    builder = builder_for(path)
    builder.factory = gate.factory
    kb = service_kb(path)
    entries = [BIRTH, MOVE_OUT, *fillers()]
    assert sum(len(embeddings.wordings(e)) for e in entries) > INLINE_TEXTS

    report = await kb.publish(entries)  # returns while the encoder threads wait at the gate
    assert len(report.added) == len(entries) and builder.running
    progress = read_progress(kb.store)
    assert progress["state"] == "encoding" and progress["running"] and progress["entries_waiting"] == len(entries)
    # Lexical meanwhile: every entry is searchable, the move-out entry shares the question's words.
    assert [h.id for h in await kb.search(NEWBORN_QUESTION)][:2] == ["qa.move-out", "qa.birth"]

    gate.open.set()
    assert builder.wait(300)
    progress = read_progress(kb.store)
    assert progress["state"] == "done" and progress["entries_waiting"] == 0
    assert progress["texts_done"] == progress["texts_total"] == len(gate.texts)
    assert sorted(gate.texts) == sorted({t for e in entries for t in embeddings.wordings(e)})
    assert progress["workers"] == vector_builder.default_workers()
    # The search notices the vectors (the store's 'vectors' counter) and the meaning wins.
    dense = kb.backend.dense
    assert isinstance(dense, DenseStage)
    dense._checked = 0.0  # no need to wait out RECHECK_SECONDS in a test
    assert [h.id for h in await kb.search(NEWBORN_QUESTION)][:2] == ["qa.birth", "qa.move-out"]
    await kb.close()


async def test_an_encoding_cut_short_goes_on_where_it_stopped(tmp_path: Path) -> None:
    path = tmp_path / "kb.sqlite3"
    kb = KnowledgeBase(Store(path), EmbeddedSearch(Store(path), dense=False))  # entries only, no vectors
    entries = [BIRTH, MOVE_OUT, *fillers()]
    await kb.publish(entries)
    all_texts = {t for e in entries for t in embeddings.wordings(e)}

    first = Gate()
    first.open.set()
    first.after_call = threading.Event()
    stopping = VectorBuilder(path, workers=1, factory=first.factory)
    stopping.start()
    assert first.after_call.wait(120)
    stopping.stop(120)  # a restart: the chunk in the engine finishes, nothing more starts
    stored = {r[0] for r in kb.store.connection().execute("SELECT id FROM entry_vectors")}
    assert 0 < len(stored) < len(entries)
    assert read_progress(kb.store)["state"] == "interrupted"

    second = Gate()
    second.open.set()
    done = VectorBuilder(path, factory=second.factory).run()
    assert done is not None and done.state == "done"
    assert set(second.texts).isdisjoint(first.texts) and set(first.texts) | set(second.texts) == all_texts
    assert {r[0] for r in kb.store.connection().execute("SELECT id FROM entry_vectors")} == {e.id for e in entries}
    assert read_progress(kb.store)["entries_waiting"] == 0
    await kb.close()


def test_worker_threads_give_the_shared_encoders_vectors() -> None:
    texts = [embeddings.wordings(e)[0] for e in [BIRTH, MOVE_OUT, *fillers()[:20]]]
    shared = embeddings.shared_encoder()
    assert shared is not None
    expected = embeddings.encode(shared, texts, is_query=True)
    got: dict[str, np.ndarray] = {}

    def arrived(chunk: list[str], vectors: np.ndarray) -> None:
        assert threading.current_thread() is threading.main_thread()  # writes happen on the caller's thread
        got.update(zip(chunk, vectors, strict=True))

    encode_parallel(texts, 2, vector_builder._take_default, arrived)
    assert np.abs(np.stack([got[t] for t in texts]) - expected).max() < 1e-5


def test_an_engine_error_is_raised_once_every_thread_stopped() -> None:
    class Broken:
        dim = embeddings.DIM

        def encode(self, texts: list[str], is_query: bool = False) -> np.ndarray:
            raise RuntimeError("engine failed")

    arrived: list[int] = []
    with pytest.raises(RuntimeError, match="engine failed"):
        encode_parallel(["甲"] * 100, 2, Broken, lambda chunk, vectors: arrived.append(len(chunk)))
    assert arrived == []
