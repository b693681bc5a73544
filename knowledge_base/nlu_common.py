"""What the project's Rasa 3.6 components share: their files in Rasa's model storage, and the
message loop of the featurizers (knowledge_base.nlu_lac_featurizer, nlu_e5_featurizer)."""

from __future__ import annotations

from typing import Any

import joblib
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData


def save_to_model_storage(model_storage: ModelStorage, resource: Resource, filename: str, value: Any) -> None:
    """Save `value` with joblib as `filename` in the component's directory of the model."""
    with model_storage.write_to(resource) as model_dir:
        joblib.dump(value, model_dir / filename)


def load_from_model_storage(model_storage: ModelStorage, resource: Resource, filename: str) -> Any | None:
    """What save_to_model_storage saved, or None when the model holds nothing for the component
    (it was never trained): the caller warns and carries on untrained rather than failing to load."""
    try:
        with model_storage.read_from(resource) as model_dir:
            return joblib.load(model_dir / filename)
    except (ValueError, FileNotFoundError):
        return None


def messages_with_words(messages: list[Message]) -> list[Message]:
    """The messages the tokenizer found words in.  Featurizers skip the rest (an empty message or
    "？？？"), as Rasa's CountVectorsFeaturizer does: the classifier treats a message without
    features as not understood, leaves such a training example out, and gives a message a block
    of zeros for each featurizer that had nothing for it (knowledge_base.nlu_classifier)."""
    return [m for m in messages if m.get(TOKENS_NAMES[TEXT])]


class FeaturizesInPlace:
    """Rasa's process and process_training_data for a featurizer whose `_featurize` adds features
    to the messages it is given (the same at training and at inference)."""

    def _featurize(self, messages: list[Message]) -> None:
        raise NotImplementedError

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data
