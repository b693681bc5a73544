"""The Rasa tokenizer component over the shared tokenizer (knowledge_base.nlu_tokenizer)."""

from __future__ import annotations

import pytest
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from knowledge_base.nlu_tokenizer import GovJiebaTokenizer, lexicon_fingerprint


@pytest.fixture(scope="module")
def tokenizer() -> GovJiebaTokenizer:
    return GovJiebaTokenizer(GovJiebaTokenizer.get_default_config())


def tokens_of(tokenizer: GovJiebaTokenizer, text: str) -> list:
    return tokenizer.tokenize(Message(data={TEXT: text}), TEXT)


@pytest.mark.parametrize(
    "text",
    [
        "我想 交社保， 在哪办？？",
        "  社保卡丢了   咋补办 ok?  ",
        "办营业执照\n要带什么材料\t谢谢！",
        "hi 我想办个yyzz，个体的～",
        "。。。，，，",
    ],
)
def test_no_blank_or_punctuation_tokens_and_offsets_point_at_the_text(tokenizer, text):
    tokens = tokens_of(tokenizer, text)
    for token in tokens:
        assert token.text.strip() == token.text and token.text, repr(token.text)
        assert text[token.start : token.end] == token.text
    starts = [t.start for t in tokens]
    assert starts == sorted(starts)
    if text == "。。。，，，":
        assert tokens == []


def test_dictionary_words_stay_whole(tokenizer):
    words = [t.text for t in tokens_of(tokenizer, "办营业执照要带什么材料，个体工商户也一样吗")]
    assert "营业执照" in words
    assert "个体工商户" in words


def test_synonyms_are_folded_into_the_lemma_and_text_is_kept(tokenizer):
    short = tokens_of(tokenizer, "我想交社保")
    long = tokens_of(tokenizer, "我想交社会保险")
    assert [t.lemma for t in short] == [t.lemma for t in long]
    assert "社保" in [t.text for t in short]  # what the citizen wrote, for entity offsets
    assert "社会保险" in [t.lemma for t in short]


def test_lemma_can_be_switched_off():
    plain = GovJiebaTokenizer({**GovJiebaTokenizer.get_default_config(), "use_canonical_lemma": False})
    tokens = tokens_of(plain, "我想交社保")
    assert [t.lemma for t in tokens] == [t.text for t in tokens]


def test_training_data_gets_tokens_on_text_and_intent(tokenizer):
    data = TrainingData([Message(data={TEXT: "社保卡 怎么补办", "intent": "ask_service"})])
    tokenizer.process_training_data(data)
    example = data.training_examples[0]
    assert [t.text for t in example.get(TOKENS_NAMES[TEXT])] == ["社保卡", "怎么", "补办"]
    assert [t.text for t in example.get(TOKENS_NAMES["intent"])] == ["ask_service"]


def test_the_lexicon_is_part_of_the_training_fingerprint():
    # Rasa reuses cached training output by fingerprint; the lexicon files must be in it.
    addon = GovJiebaTokenizer.fingerprint_addon({})
    assert addon == lexicon_fingerprint()
    assert len(addon) == 64


def test_emoji_become_tokens_punctuation_does_not(tokenizer):
    tokens = tokens_of(tokenizer, "👍👍 很好！")
    assert [(t.text, t.start, t.end) for t in tokens] == [("👍", 0, 1), ("👍", 1, 2), ("很", 3, 4), ("好", 4, 5)]
