"""The Elasticsearch backend without a cluster: bad settings and an unreachable URL never reach a
citizen (answers come from the embedded index, operators get a clear message), and the pieces of
the index layout that make its ranking match the embedded backend."""

from __future__ import annotations

import logging
import math
import re
import socket
from pathlib import Path

import pytest

from knowledge_base import cli
from knowledge_base.documents import FIELDS
from knowledge_base.kb import KnowledgeBase
from knowledge_base.models import QA
from knowledge_base.search.bm25f import Bm25fIndex, IndexRow
from knowledge_base.search.elastic import ElasticsearchSearch, redact
from knowledge_base.search.elastic_index import (
    K1,
    QUANTUM,
    SCORE_SCALE,
    check_prefix,
    new_index_name,
    physical_pattern,
    weighted_text,
)
from knowledge_base.settings import Settings


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


def es_kb(kb: KnowledgeBase, **settings: object) -> KnowledgeBase:
    values: dict[str, object] = {
        "data_dir": kb.store.path.parent,
        "db_path": kb.store.path,
        "backend": "elasticsearch",
        "es_timeout": 2.0,
    }
    values.update(settings)
    return KnowledgeBase.open(Settings(**values))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"es_url": None}, "needs KB_ES_URL"),
        ({"es_url": "es.example.org:9200"}, "is not an http(s) URL"),
        ({"es_url": "htp://es.example.org"}, "is not an http(s) URL"),
        ({"es_url": "http://127.0.0.1:port"}, "invalid port"),
        ({"es_url": "http://127.0.0.1:9200", "es_index_prefix": "Jsb KB"}, "KB_ES_INDEX_PREFIX"),
        ({"es_url": "http://127.0.0.1:9200", "es_index_prefix": "jsb.kb"}, "KB_ES_INDEX_PREFIX"),
        ({"es_url": "https://127.0.0.1:9200", "es_ca": "/nonexistent/ca.pem"}, "KB_ES_CA"),
    ],
)
async def test_misconfiguration_is_logged_and_citizens_get_embedded_answers(kb, settings, message, caplog):
    with caplog.at_level(logging.ERROR, logger="knowledge_base.search.elastic"):
        es = es_kb(kb, **settings)
    assert isinstance(es.backend, ElasticsearchSearch)
    assert message in caplog.text
    hits = await es.search("怎么申请低保", top_k=3)
    assert [h.id for h in hits] == [h.id for h in await kb.search("怎么申请低保", top_k=3)]
    health = es.backend.health()
    assert health["serving"] == "embedded" and health["reason"].startswith("misconfigured")
    assert message in health["reason"]
    await es.publish([qa("misconfigured")])  # the store takes it; nothing else is tried
    assert (await es.search("测试条目misconfigured", top_k=1))[0].id == "qa.test.misconfigured"
    await es.close()


def qa(suffix: str) -> QA:
    return QA(
        id=f"qa.test.{suffix}",
        domain="general",
        question=f"测试条目{suffix}",
        similar=[f"测试条目{suffix}？", f"请问测试条目{suffix}", f"测试条目{suffix}怎么弄"],
        answer="这是测试用的条目。",
    )


async def test_unreachable_cluster_falls_back_and_remembers_changes(kb, caplog):
    es = es_kb(kb, es_url=f"http://127.0.0.1:{closed_port()}")
    with caplog.at_level(logging.WARNING, logger="knowledge_base.search.elastic"):
        first = await es.search("怎么申请低保", top_k=3)
        second = await es.search("社保卡丢了补办", top_k=3)
        await es.publish([qa("unreachable")])
    assert first and second
    health = es.backend.health()
    assert health["serving"] == "embedded" and "cannot connect to http://127.0.0.1" in health["reason"]
    assert health["queries"] == {"elasticsearch": 0, "embedded": 2}
    assert health["pending"] == 1  # indexed when the cluster is back
    assert (await es.search("测试条目unreachable", top_k=1))[0].id == "qa.test.unreachable"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "cannot connect" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not once per query
    await es.close()


def test_password_is_not_shown():
    assert redact("https://kb:s3cret@es.example.org:9243/") == "https://kb:***@es.example.org:9243/"
    assert redact("http://127.0.0.1:9200") == "http://127.0.0.1:9200"


def test_bad_timeout_setting_says_what_is_wrong(monkeypatch):
    monkeypatch.setenv("KB_ES_TIMEOUT", "fast")
    with pytest.raises(ValueError, match="KB_ES_TIMEOUT must be a number of seconds"):
        Settings.from_env()


# -- the reindex command -------------------------------------------------------------------------
def test_reindex_command_explains_when_the_backend_is_embedded(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("KB_BACKEND", "embedded")
    assert cli.main(["reindex", "--db", str(tmp_path / "kb.sqlite3")]) == 2
    assert "KB_BACKEND=elasticsearch" in capsys.readouterr().err


def test_reindex_command_reports_an_unreachable_cluster(monkeypatch, capsys, kb):
    monkeypatch.setenv("KB_BACKEND", "elasticsearch")
    monkeypatch.setenv("KB_ES_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("KB_ES_TIMEOUT", "2")
    assert cli.main(["reindex", "--db", str(kb.store.path)]) == 1
    err = capsys.readouterr().err
    assert "error: Elasticsearch: cannot connect to http://127.0.0.1" in err and "Traceback" not in err


# -- the index layout ----------------------------------------------------------------------------
def lucene_score(weighted: dict[str, str], query: list[str], n: int) -> dict[str, float]:
    """What Elasticsearch computes on the `weighted` field (BM25 with k1 * QUANTUM, b = 0, Lucene's
    idf and its (k1 + 1) factor), rescaled as the backend does."""
    stacks = {doc: {w.split("|")[0]: len(w.split("|")) for w in text.split()} for doc, text in weighted.items()}
    k1 = K1 * QUANTUM
    scores = {}
    for doc, freqs in stacks.items():
        score = 0.0
        for term in query:
            df = sum(term in f for f in stacks.values())
            if term in freqs:
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                score += idf * (k1 + 1) * freqs[term] / (freqs[term] + k1)
        scores[doc] = score * SCORE_SCALE
    return scores


def test_the_weighted_field_reproduces_the_embedded_bm25f_scores():
    def row(entry_id: str, **fields: str) -> IndexRow:
        return IndexRow(entry_id, "qa", "d", entry_id, "", fields)

    rows = [
        row("a", title="低保 申请", questions="低保 条件 申请 低保", content="条件"),
        row("b", title="社保卡 补办", questions="社保卡 丢 补办", keywords="社保卡"),
        row("c", title="低保", content=" ".join(["低保 审核 材料 条件"] * 30)),
        row("d", title="公积金 提取", questions="公积金 怎么 取", content="提取 条件"),
    ]
    index = Bm25fIndex(rows, generation=0)
    averages = {f: sum(len(r.field_terms.get(f, "").split()) for r in rows) / len(rows) for f in FIELDS}
    weighted = {r.id: weighted_text(r.field_terms, averages) for r in rows}
    for query in (["低保", "条件"], ["社保卡", "补办"], ["条件"], ["公积金", "提取", "条件"]):
        expected = dict((row.id, score) for row, score in index.top(query, k=10))
        got = lucene_score(weighted, query, len(rows))
        assert set(expected) == {doc for doc, score in got.items() if score > 0}
        for doc, score in expected.items():
            assert got[doc] == pytest.approx(score, rel=0.02), (query, doc)  # tf~ is kept in steps of 1/8


def test_weighted_text_stacks_each_distinct_term_once():
    text = weighted_text({"title": "低保 申请", "questions": "低保", "keywords": "", "content": "条件|x"}, {})
    tokens = text.split()
    assert [t.split("|")[0] for t in tokens] == ["低保", "申请", "条件x"]  # "|" never leaks into a term
    assert all(len(set(t.split("|"))) == 1 for t in tokens)


def test_index_names():
    assert check_prefix("jsb-kb") == "jsb-kb"
    for bad in ("", "JSB", "jsb kb", "jsb.kb", "-jsb", "jsb*"):
        with pytest.raises(ValueError, match="KB_ES_INDEX_PREFIX"):
            check_prefix(bad)
    first, second = new_index_name("jsb-kb"), new_index_name("jsb-kb")
    assert re.fullmatch(r"jsb-kb\.v\d{17}-[0-9a-f]{4}", first) and first != second
    assert physical_pattern("jsb-kb") == "jsb-kb.v*" and not Path("jsb-kb-other.v1").match(physical_pattern("jsb-kb"))
