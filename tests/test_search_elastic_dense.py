"""The dense recall (search/dense.py) through the Elasticsearch backend against a real engine
(KB_TEST_ES_URL): an entry the question shares no word with, which the cluster cannot return,
is found from the store's sentence vectors, with the same ranking and scores as the embedded
backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from elastic_fixtures import es_knowledge_base, es_settings, served
from test_dense import ABROAD_QUESTION, PASSPORT, PHOTO, SOCIAL_CARD

from knowledge_base.kb import KnowledgeBase
from knowledge_base.search import dense as dense_module
from knowledge_base.search.dense import DenseStage
from knowledge_base.search.embedded import EmbeddedSearch
from knowledge_base.store import Store

pytest_plugins = ["elastic_fixtures"]  # es_url, es_prefix
pytestmark = pytest.mark.opensearch


async def test_the_dense_recall_finds_the_same_entries_as_in_the_embedded_backend(
    tmp_path: Path, es_url: str, es_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "kb.sqlite3")
    embedded = EmbeddedSearch(store, dense=False)
    embedded.dense = DenseStage(store)
    kb = KnowledgeBase(store, embedded)
    await kb.publish([PASSPORT, PHOTO, SOCIAL_CARD])
    es = es_knowledge_base(kb, es_settings(es_url, es_prefix))
    await es.backend.start()  # type: ignore[attr-defined]

    want = await embedded.search(ABROAD_QUESTION, top_k=5)
    got = await es.search(ABROAD_QUESTION, top_k=5)
    assert served(es) == {"elasticsearch": 1, "embedded": 0}
    assert [h.id for h in got] == [h.id for h in want]
    assert got[0].id == "qa.passport"  # only 证件 (qa.photo) is a word the cluster matches
    for mine, twin in zip(got, want, strict=True):
        assert mine.score == pytest.approx(twin.score, rel=0.02)
        assert (mine.title, mine.answer, mine.snippet, mine.coverage) == (
            twin.title,
            twin.answer,
            twin.snippet,
            twin.coverage,
        )
    # The kinds filter holds for what the dense side adds, and without it the cluster's one hit stays.
    assert await es.search(ABROAD_QUESTION, top_k=5, kinds=["guide"]) == []
    monkeypatch.setattr(dense_module, "DENSE_RECALL", 0)
    assert [h.id for h in await es.search(ABROAD_QUESTION, top_k=5)] == ["qa.photo"]
    await es.close()
