"""The linear intent classifier component (knowledge_base.nlu_classifier), on hand-made features."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from knowledge_base.nlu_classifier import LinearIntentClassifier

VOCABULARY = 6


def message(word_ids: list[int], intent: str | None = None) -> Message:
    """A message whose sentence features count the given words (as a featurizer would)."""
    counts = np.zeros((1, VOCABULARY))
    for i in word_ids:
        counts[0, i] += 1
    msg = Message(data={TEXT: " ".join(map(str, word_ids)), **({"intent": intent} if intent else {})})
    msg.add_features(Features(scipy.sparse.coo_matrix(counts), "sentence", TEXT, "test"))
    return msg


# three intents, each signalled by its own two words, with some shared noise words
TRAIN = [
    *(message([0, 1, n], "greet") for n in (3, 4, 5, 3, 4, 5)),
    *(message([2, n], "ask_element") for n in (3, 4, 5, 3, 4, 5)),
    *(message([5, 5, n], "stop") for n in (0, 2, 3, 4, 0, 2)),
]


@pytest.fixture
def storage(tmp_path):
    return LocalModelStorage(tmp_path)


def make(storage, **config) -> LinearIntentClassifier:
    context = ExecutionContext(GraphSchema({}), "test")
    return LinearIntentClassifier.create(
        {**LinearIntentClassifier.get_default_config(), **config}, storage, Resource("clf"), context
    )


@pytest.mark.parametrize(("kind", "tfidf"), [("svm", True), ("logreg", True), ("logreg", False)])
def test_trains_and_ranks_intents_with_probabilities(storage, kind, tfidf):
    clf = make(storage, kind=kind, tfidf=tfidf)
    clf.train(TrainingData(TRAIN))
    tests = [message([0, 1]), message([2, 3]), message([5, 5])]
    clf.process(tests)
    assert [m.get("intent")["name"] for m in tests] == ["greet", "ask_element", "stop"]
    for m in tests:
        ranking = m.get("intent_ranking")
        confidences = [r["confidence"] for r in ranking]
        assert confidences == sorted(confidences, reverse=True)
        assert sum(confidences) == pytest.approx(1.0)
        assert ranking[0]["name"] == m.get("intent")["name"]


def test_svm_confidence_keeps_the_svm_ranking(storage):
    clf = make(storage, kind="svm")
    clf.train(TrainingData(TRAIN))
    assert clf.temperature > 0
    probe = message([1, 2, 5])  # mixed signals
    clf.process([probe])
    scores = clf.model.decision_function(clf._features([probe])[0])[0]
    assert probe.get("intent")["name"] == clf.model.classes_[int(np.argmax(scores))]


def test_persisted_model_loads_and_answers_the_same(storage):
    clf = make(storage)
    clf.train(TrainingData(TRAIN))
    context = ExecutionContext(GraphSchema({}), "test")
    loaded = LinearIntentClassifier.load(clf.config, storage, Resource("clf"), context)
    a, b = message([2, 4]), message([2, 4])
    clf.process([a])
    loaded.process([b])
    assert a.get("intent_ranking") == b.get("intent_ranking")
    assert loaded.temperature == clf.temperature


def test_two_intents_work_too(storage):
    clf = make(storage)
    clf.train(TrainingData(TRAIN[:12]))
    probe = message([0, 1])
    clf.process([probe])
    assert probe.get("intent")["name"] == "greet"
    assert sum(r["confidence"] for r in probe.get("intent_ranking")) == pytest.approx(1.0)


def test_untrained_or_missing_model_leaves_messages_alone(storage):
    clf = make(storage)
    clf.train(TrainingData(TRAIN[:6]))  # one intent only: nothing to learn
    probe = message([0])
    clf.process([probe])
    assert probe.get("intent") is None
    context = ExecutionContext(GraphSchema({}), "test")
    missing = LinearIntentClassifier.load(clf.config, storage, Resource("never-trained"), context)
    assert missing.model is None


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind"):
        LinearIntentClassifier.validate_config({"kind": "forest"})
