"""The NLU training data (nlu_data/nlu) and the held-out test set (bench/nlu/gov_test.yml)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml
from rasa.shared.nlu.training_data.loading import load_data

from knowledge_base.loader import load_data_dir
from knowledge_base.models import ELEMENT_LABELS, Center, Guide

REPO = Path(__file__).resolve().parent.parent
TRAIN = REPO / "nlu_data" / "nlu"
HELD_OUT = REPO / "bench" / "nlu" / "gov_test.yml"

# The intents helper Dialogue builds the domain and stories on (choose_entry is a button payload).
INTENTS = set(
    "greet goodbye thanks affirm deny ask_service ask_element start_walkthrough next_step previous_step "
    "repeat_step stuck stop resume request_human rate_good rate_bad ask_nearest_center complain suggest "
    "out_of_scope chitchat ask_terminal ask_policy".split()
)
ENTITIES = {"service", "element", "place"}


@pytest.fixture(scope="module")
def train():
    return load_data(str(TRAIN))


@pytest.fixture(scope="module")
def held_out():
    return load_data(str(HELD_OUT))


def test_every_intent_has_enough_varied_examples(train):
    counts = Counter(m.get("intent") for m in train.intent_examples)
    assert set(counts) == INTENTS
    assert min(counts.values()) >= 25, counts.most_common()[-3:]
    texts = [m.get("text") for m in train.intent_examples]
    assert len(texts) == len(set(texts)), "an example is listed twice"


def test_held_out_set_covers_every_intent_and_shares_no_example(train, held_out):
    counts = Counter(m.get("intent") for m in held_out.intent_examples)
    assert set(counts) == INTENTS
    assert min(counts.values()) >= 8
    overlap = {m.get("text") for m in train.intent_examples} & {m.get("text") for m in held_out.intent_examples}
    assert not overlap


def test_only_the_agreed_entities_are_annotated(train, held_out):
    assert train.entities <= ENTITIES
    assert held_out.entities <= ENTITIES


def test_held_out_gold_values_are_known_to_the_knowledge_base(held_out):
    entries = load_data_dir()
    known = {
        "service": {e.title for e in entries if isinstance(e, Guide)},
        "place": {e.area for e in entries if isinstance(e, Center)},
        "element": set(ELEMENT_LABELS),
    }
    for message in held_out.intent_examples:
        for entity in message.get("entities") or []:
            assert entity["value"] in known[entity["entity"]], (message.get("text"), entity)


def _element_blocks() -> tuple[list[str], dict[str, list[str]]]:
    doc = yaml.safe_load((TRAIN / "elements.yml").read_text(encoding="utf-8"))
    lookup: list[str] = []
    synonyms: dict[str, list[str]] = {}
    for block in doc["nlu"]:
        items = [line[2:].strip() for line in block["examples"].splitlines() if line.startswith("- ")]
        if block.get("lookup") == "element":
            lookup = items
        elif "synonym" in block:
            synonyms.setdefault(block["synonym"], []).extend(items)
    return lookup, synonyms


def test_element_words_are_normalised_to_element_keys():
    lookup, synonyms = _element_blocks()
    assert set(synonyms) <= set(ELEMENT_LABELS)
    variants = [v for values in synonyms.values() for v in values]
    assert len(variants) == len(set(variants)), "a word is mapped to two elements"
    assert set(lookup) == set(variants), "every lookup word needs exactly one element key"


def test_element_lookup_is_longest_first():
    # RegexEntityExtractor joins a table into one alternation: the first listed alternative wins.
    lookup, _ = _element_blocks()
    assert [len(w) for w in lookup] == sorted((len(w) for w in lookup), reverse=True)
