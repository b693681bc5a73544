"""The pipeline of config.yml trains on valid Rasa NLU data that somebody else wrote (issue #13).

A district that adds its own intents, or a public data set, brings shapes our own data never had:
mixed Chinese/English, pre-tokenised text with spaces, phone numbers, emoji, one-word examples,
an intent with a single example, examples in which the tokenizer finds no word at all (so no
featurizer gives them a block), and entity annotations.  The set below is generated with all of
them; the real pipeline is trained on it by Rasa and then parses messages of every shape.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
import yaml
from nlu_training import trained_agent

REPO = Path(__file__).resolve().parent.parent

# (intent, plain Chinese wordings); the generator adds the other shapes around them
BASE = {
    "greet": ["你好", "您好在吗", "早上好", "哈喽", "在不在"],
    "ask_bill": ["查话费", "我的话费还剩多少", "这个月话费多少钱", "话费怎么扣这么多", "帮我看看账单"],
    "report_fault": ["宽带断网了", "家里网络连不上", "路由器一直闪红灯", "网速特别慢", "光猫没信号"],
    "thanks": ["谢谢", "多谢了", "太感谢你了", "辛苦了"],
}
ENGLISH_OPENERS = ["hi", "hello", "Hi,", "hey"]
# examples in which GovJiebaTokenizer finds no word: no featurizer adds anything for them
NO_WORDS = {"greet": ["ｈｉ", "こんにちは"], "thanks": ["^_^"], "report_fault": ["？？？"]}


def phone(rng: random.Random) -> str:
    return "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))


def spaced(text: str) -> str:
    """The text cut into words with spaces between them, as pre-tokenised corpora are written."""
    from knowledge_base.tokenizer import shared_tokenizer

    return " ".join(t.text for t in shared_tokenizer().tokenize(text))


def generated_nlu(seed: int = 13) -> str:
    """Rasa 3 YAML with every shape of issue #13 (deterministic for a seed)."""
    rng = random.Random(seed)
    examples: dict[str, list[str]] = {intent: [] for intent in BASE}
    for intent, wordings in BASE.items():
        for text in wordings:
            examples[intent] += [text, spaced(text), f"{rng.choice(ENGLISH_OPENERS)} {text}"]
        examples[intent] += NO_WORDS.get(intent, [])
    examples["greet"] += ["hello", "hi there", "👋"]  # English only, one word, emoji only
    examples["thanks"] += ["thanks a lot", "thx", "👍", "谢谢🙏"]
    examples["report_fault"] += ["wifi坏了", "5G没信号"]
    for _ in range(4):  # phone numbers, some of them annotated as entities
        number = phone(rng)
        examples["ask_bill"] += [f"帮我查下[{number}](phone)的话费", f"{phone(rng)} 这个号码欠费了吗"]
    examples["bye"] = ["再见"]  # an intent with a single example
    nlu = [
        {"intent": intent, "examples": "".join(f"- {t}\n" for t in dict.fromkeys(texts))}
        for intent, texts in examples.items()
    ]
    nlu.append({"regex": "phone", "examples": "- 1[3-9][0-9]{9}\n"})
    return yaml.safe_dump({"version": "3.1", "nlu": nlu}, allow_unicode=True, sort_keys=False)


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    work = tmp_path_factory.mktemp("nlu_any_data")
    data = work / "data"
    data.mkdir()
    (data / "other.yml").write_text(generated_nlu(), encoding="utf-8")
    return trained_agent(work, data)


def parse(agent, text: str) -> dict:
    from rasa.core.channels.channel import UserMessage

    return asyncio.run(agent.processor.parse_message(UserMessage(text)))


def test_generated_data_has_every_shape():
    data = yaml.safe_load(generated_nlu())["nlu"]
    texts = [line[2:] for item in data if "intent" in item for line in item["examples"].splitlines()]
    assert any(" " in t and all("\u4e00" <= c <= "\u9fff" or c == " " for c in t) for t in texts)  # pre-tokenised
    assert any(t.startswith(("hi ", "hello ")) for t in texts)  # mixed Chinese/English
    assert any("](phone)" in t for t in texts)  # entity annotations
    assert "👍" in texts and "嗯" not in texts  # emoji only; 嗯 is left for parsing
    assert sum(1 for item in data if "intent" in item and item["examples"].count("\n") == 1) == 1  # one example
    assert {"ｈｉ", "？？？", "^_^"} <= set(texts)  # no word for the tokenizer


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("查 一下 话费", "ask_bill"),  # pre-tokenised
        ("hello 我想查话费", "ask_bill"),  # mixed
        ("宽带 又 断网 了", "report_fault"),
        ("hi", "greet"),  # one English word
        ("👍", "thanks"),  # emoji only
        ("再见", "bye"),  # the intent with a single example
    ],
)
def test_parses_every_shape(agent, text, intent):
    result = parse(agent, text)
    assert result["intent"]["name"] == intent, result["intent_ranking"][:3]
    assert 0.0 < result["intent"]["confidence"] <= 1.0


def test_phone_number_is_an_entity_and_the_intent_is_found(agent):
    result = parse(agent, "13812345678 这个号码的话费是多少")
    assert result["intent"]["name"] == "ask_bill"
    assert ("phone", "13812345678") in {(e["entity"], e["value"]) for e in result["entities"]}


@pytest.mark.parametrize("text", ["？？？", "ｈｉ", "~~~"])
def test_a_message_without_words_is_not_understood(agent, text):
    assert parse(agent, text)["intent"]["name"] == "nlu_fallback"


def test_an_unseen_one_word_message_gets_a_ranking(agent):
    result = parse(agent, "嗯")
    ranking = result["intent_ranking"]
    assert {r["name"] for r in ranking} <= {*BASE, "bye", "nlu_fallback"}
    assert ranking and all(0.0 <= r["confidence"] <= 1.0 for r in ranking)
