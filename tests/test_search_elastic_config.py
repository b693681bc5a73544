"""The Elasticsearch backend without a cluster: bad settings and an unreachable URL never reach a
citizen (answers come from the embedded index, operators get a clear message), and the pieces of
the index layout that make its ranking match the embedded backend."""

from __future__ import annotations

import logging
import re
import socket
from pathlib import Path

import pytest

from knowledge_base import cli
from knowledge_base.kb import KnowledgeBase
from knowledge_base.models import QA
from knowledge_base.search.elastic import ElasticsearchSearch, redact
from knowledge_base.search.elastic_index import (
    K1,
    REPEATS,
    B,
    bm25_parameters,
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
def test_weighted_text_stacks_each_term_by_its_field_weight():
    text = weighted_text({"title": "低保 申请", "questions": "低保", "keywords": "", "content": "条件"})
    tokens = text.split()
    assert tokens[0] == "|".join(["低保"] * REPEATS["title"])
    assert tokens[2] == "|".join(["低保"] * REPEATS["questions"])
    assert tokens[-1] == "条件"
    # Weighted term frequency: sum over fields of weight x occurrences, as SQLite's bm25() counts.
    assert sum(t.split("|").count("低保") for t in tokens) == REPEATS["title"] + REPEATS["questions"]
    assert len(tokens) == 4  # the document length Lucene sees: stacked tokens share one position


@pytest.mark.parametrize("dl_ratio", [0.1, 0.5, 1.0, 2.0, 7.5])
def test_bm25_parameters_give_sqlites_length_normalisation(dl_ratio):
    plain, weighted = 1_000, 3_400  # c = 1000/3400: Lucene's average length is 3.4 times SQLite's
    p = bm25_parameters(plain, weighted)
    c = plain / weighted
    sqlite = K1 * (1 - B + B * dl_ratio)
    lucene = p.k1 * (1 - p.b + p.b * dl_ratio * c)  # dl / (avgdl / c)
    assert lucene == pytest.approx(sqlite, rel=1e-5)


def test_index_names():
    assert check_prefix("jsb-kb") == "jsb-kb"
    for bad in ("", "JSB", "jsb kb", "jsb.kb", "-jsb", "jsb*"):
        with pytest.raises(ValueError, match="KB_ES_INDEX_PREFIX"):
            check_prefix(bad)
    first, second = new_index_name("jsb-kb"), new_index_name("jsb-kb")
    assert re.fullmatch(r"jsb-kb\.v\d{17}-[0-9a-f]{4}", first) and first != second
    assert physical_pattern("jsb-kb") == "jsb-kb.v*" and not Path("jsb-kb-other.v1").match(physical_pattern("jsb-kb"))
