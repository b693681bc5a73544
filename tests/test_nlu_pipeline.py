"""The pipeline of config.yml, trained by Rasa for real on a small part of our data."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from nlu_training import trained_agent

from knowledge_base.nlu_lookups import main as write_lookups

REPO = Path(__file__).resolve().parent.parent

SMALL_TALK = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - 你好
    - 您好，在吗
    - hi
    - 早上好
    - 哈喽
    - 你好呀，打扰了
"""


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    work = tmp_path_factory.mktemp("nlu_pipeline")
    data = work / "data"
    data.mkdir()
    shutil.copy(REPO / "nlu_data" / "nlu" / "elements.yml", data / "elements.yml")
    shutil.copy(REPO / "nlu_data" / "nlu" / "centers.yml", data / "centers.yml")
    (data / "smalltalk.yml").write_text(SMALL_TALK, encoding="utf-8")
    assert write_lookups([str(data)]) == 0
    return trained_agent(work, data)


def parse(agent, text: str, full: bool = False) -> dict:
    from rasa.core.channels.channel import UserMessage

    return asyncio.run(agent.processor.parse_message(UserMessage(text), only_output_properties=not full))


def test_tokens_have_no_blanks_and_dictionary_words_stay_whole(agent):
    text = "办营业执照 要带什么材料？"
    tokens = parse(agent, text, full=True)["text_tokens"]
    assert tokens, "the pipeline produced no tokens"
    for token in tokens:
        assert token.text.strip() and text[token.start : token.end] == token.text
    assert "营业执照" in [t.text for t in tokens]


def test_intent_and_normalised_element(agent):
    result = parse(agent, "办营业执照要带什么材料")
    assert result["intent"]["name"] == "ask_element"
    assert ("element", "materials") in {(e["entity"], e["value"]) for e in result["entities"]}


def test_service_alias_is_mapped_to_the_guide_title(agent):
    entities = parse(agent, "补办营业执照要多少钱")["entities"]
    found = {(e["entity"], e["value"]) for e in entities}
    assert ("service", "营业执照遗失补领") in found
    assert ("element", "fee") in found


def test_place_is_mapped_to_the_centres_area(agent):
    result = parse(agent, "回河街道便民服务中心在哪")
    assert result["intent"]["name"] == "ask_nearest_center"
    assert ("place", "回河街道") in {(e["entity"], e["value"]) for e in result["entities"]}


def test_greeting_carries_no_entities(agent):
    result = parse(agent, "你好")
    assert result["intent"]["name"] == "greet"
    assert result["entities"] == []
