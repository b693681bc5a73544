"""Ranking on fixed queries, element lookup, and awkward queries on the embedded backend."""

import pytest

from knowledge_base.search.embedded import EmbeddedSearch
from knowledge_base.search.hits import snippet


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("个体户营业执照能在网上办吗", "qa.business.individual-online"),
        ("个体户设立登记要带什么", "guide.individual-business-registration"),
        ("怎么申请低保", None),  # checked below: a civil-affairs entry about 低保
    ],
)
async def test_fixed_queries_rank_the_right_entry_first(kb, query, expected):
    hits = await kb.search(query, top_k=3)
    assert hits, query
    if expected:
        assert hits[0].id == expected
    else:
        assert hits[0].domain == "civil_affairs" and "低保" in hits[0].title + hits[0].answer


async def test_synonyms_find_the_same_entries(kb):
    short = [h.id for h in await kb.search("社保卡丢了补办", top_k=3)]
    long = [h.id for h in await kb.search("社会保障卡丢了补办", top_k=3)]
    assert short == long and short


async def test_hits_explain_themselves(kb):
    [hit] = await kb.search("个体工商户设立登记", top_k=1)
    assert hit.matched_field == "title"
    assert hit.coverage == 1.0
    assert hit.score > 0 and hit.snippet and len(hit.snippet) <= 62


async def test_kinds_filter(kb):
    hits = await kb.search("回河街道便民服务中心在哪", top_k=5, kinds=["center"])
    assert hits and {h.kind for h in hits} == {"center"}


@pytest.mark.parametrize("query", ["", "   ", "？？！！。。", "🙂🙂🙂", "的了吗呢"])
async def test_empty_or_meaningless_query_gives_no_hits(kb, query):
    assert await kb.search(query) == []


async def test_very_long_query_is_answered(kb):
    hits = await kb.search("我想问一下营业执照的事情，" * 1000)  # 13,000 characters
    assert hits and hits[0].domain == "business"


@pytest.mark.parametrize("query", ['"营业执照" OR', "营业执照 NEAR(", "*", "title:营业执照", "a AND b NOT c", '"'])
async def test_fts_syntax_in_a_question_is_plain_text(kb, query):
    await kb.search(query)  # must not raise


def test_search_is_callable_synchronously(kb):
    backend = kb.backend
    assert isinstance(backend, EmbeddedSearch)
    assert backend.search_sync("营业执照", top_k=2)


def test_element_lookup(kb):
    text = kb.element("guide.individual-business-registration", "materials")
    assert "经营者居民身份证" in text and text.startswith("1. ")
    assert kb.element("guide.individual-business-registration", "fee") == "不收费"
    assert kb.element("guide.no-such-guide", "fee") is None
    with pytest.raises(KeyError):
        kb.element("guide.individual-business-registration", "colour")


def test_snippet_centres_on_the_matched_word():
    text = "甲" * 100 + "营业执照" + "乙" * 100
    piece = snippet(text, ["营业执照"])
    assert "营业执照" in piece and piece.startswith("…") and piece.endswith("…")
