"""knowledge_base.question.question_part: the asking part of a long message, pure and bounded."""

from __future__ import annotations

import pytest

from knowledge_base.question import DEFAULT_MAX_CHARS, asking_clause, clauses, question_part, score


@pytest.mark.parametrize("text", ["你好", "那要多少钱？", "俺住崔寨，想问问孩子上学要啥材料", "转人工"])
def test_a_short_message_is_kept_whole(text: str) -> None:
    assert question_part(text) == text


def test_the_question_is_found_after_the_story() -> None:
    text = (
        "俺家孩子今年九月上小学，俺们是去年从外地搬过来的，户口还在老家没迁过来，房子是租的，想问问上学要准备啥材料？"
    )
    part = question_part(text)
    assert "啥材料" in part
    assert "房子是租的" not in part
    assert len(part) <= DEFAULT_MAX_CHARS


def test_a_question_at_the_start_is_found_before_the_story() -> None:
    text = "补办身份证要带什么材料？我上个月在集市上把钱包丢了，里面有身份证和银行卡，当时报了警，派出所让我自己去补。"
    part = question_part(text)
    assert part.startswith("补办身份证要带什么材料")


def test_a_bare_question_keeps_the_clause_that_names_the_matter() -> None:
    text = (
        "我在街上开了个小卖部干了好几年了，房租一年比一年贵，生意也不好做，孩子还要上学，"
        "一直没顾上，个体户营业执照，咋办？"
    )
    part = question_part(text)
    assert "营业执照" in part and "咋办" in part
    assert "房租" not in part


def test_several_asks_stay_together_within_the_bound() -> None:
    text = (
        "我老伴去年退休了，单位说让我们自己去办养老金的事，我们俩都不会用手机，社保卡也丢了，"
        "补办社保卡需要带什么东西，在哪里办，多长时间能拿到新卡呢"
    )
    part = question_part(text)
    assert "带什么东西" in part and "多长时间" in part
    assert len(part) <= DEFAULT_MAX_CHARS


@pytest.mark.parametrize("max_chars", [10, 20, 48, 100])
def test_the_result_is_bounded(max_chars: int) -> None:
    text = "我想问一下" + "这个事情到底应该怎么弄才能办下来" * 10
    assert len(question_part(text, max_chars)) <= max_chars


def test_one_long_clause_is_cut_around_its_question_word() -> None:
    text = "俺们村里好多人都在说今年的新农合交费标准变了俺也不知道真假" * 2 + "城乡居民医保一年要交多少钱"
    part = question_part(text, 30)
    assert part.endswith("多少钱")
    assert len(part) <= 30


def test_no_words_and_mash_do_not_fail() -> None:
    assert question_part("") == ""
    assert question_part("   ") == ""
    mash = "asdkjhaskjdhaksjdhaksjdhaksjdhaksjdhaksjhdkajshdkajshdkajshdkasjhdkajsdh"
    assert len(question_part(mash)) <= DEFAULT_MAX_CHARS


def test_story_clauses_score_below_asking_ones() -> None:
    assert score("想问问孩子上学要啥材料") > score("俺住崔寨")
    assert score("去年搬过来的") < score("要多久？")


def test_clauses_keep_their_punctuation_and_order() -> None:
    assert clauses("俺住崔寨，想问问。咋办？") == ["俺住崔寨，", "想问问。", "咋办？"]


@pytest.mark.parametrize(
    ("text", "clause"),
    [
        ("俺在老街开了个修车铺 个体户执照怎么弄", "个体户执照怎么弄"),  # a short message, the story first
        ("孩子的医保能报销吗，在外地住的院", "孩子的医保能报销吗，"),  # the afterthought is context
        ("老家的房子，那个不动产证咋补", "那个不动产证咋补"),
        ("补办社保卡", "补办社保卡"),  # one clause: itself
    ],
)
def test_the_asking_clause_is_the_one_clause_that_asks(text: str, clause: str) -> None:
    assert asking_clause(text) == clause


def test_a_too_short_asking_clause_keeps_the_one_before() -> None:
    assert asking_clause("结婚证丢了，咋办？") == "结婚证丢了，咋办？"
