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

from knowledge_base.nlu_classifier import LinearIntentClassifier, UnusableTrainingDataError

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


# -- examples whose featurizers gave different blocks (issue #13) ---------------------------------


def with_dense(msg: Message, vector: list[float]) -> Message:
    msg.add_features(Features(np.array([vector]), "sentence", TEXT, "dense"))
    return msg


def featureless(text: str, intent: str | None = None) -> Message:
    """A message in which the tokenizer found no word: no featurizer added anything."""
    return Message(data={TEXT: text, **({"intent": intent} if intent else {})})


def test_an_example_without_one_featurizers_block_gets_zeros_there(storage):
    """Some examples have the dense block and some do not: before, their rows had different widths."""
    train = [with_dense(m, [1.0, 0.0]) if i % 2 else m for i, m in enumerate(TRAIN)]
    clf = make(storage)
    clf.train(TrainingData(train))
    assert [(b.origin, b.sparse, b.width) for b in clf.layout] == [("test", True, VOCABULARY), ("dense", False, 2)]
    # at inference a message lacking the dense block is read exactly as one whose block is zeros
    lacking, zeros = message([2, 3]), with_dense(message([2, 3]), [0.0, 0.0])
    clf.process([lacking, zeros])
    assert lacking.get("intent_ranking") == zeros.get("intent_ranking")
    assert lacking.get("intent")["name"] == "ask_element"
    assert clf._features([lacking])[0].shape == (1, VOCABULARY + 2)


def test_examples_without_any_feature_are_left_out_and_named(storage, caplog):
    clf = make(storage)
    with caplog.at_level("WARNING", logger="knowledge_base.nlu_classifier"):
        clf.train(TrainingData([*TRAIN, featureless("？？？", "greet"), featureless("ｈｉ", "stop")]))
    assert "'greet', text '？？？'" in caplog.text and "'stop', text 'ｈｉ'" in caplog.text
    probe, blank = message([0, 1]), featureless("～～")
    clf.process([probe, blank])
    assert probe.get("intent")["name"] == "greet"
    assert blank.get("intent")["name"] == "nlu_fallback"


def test_an_intent_left_without_usable_examples_is_an_error_naming_them(storage):
    clf = make(storage)
    with pytest.raises(UnusableTrainingDataError, match=r"intent 'laugh'.*text '\^_\^'"):
        clf.train(TrainingData([*TRAIN, featureless("^_^", "laugh"), featureless("233？", "laugh")]))


def test_data_without_any_feature_is_an_error(storage):
    clf = make(storage)
    with pytest.raises(UnusableTrainingDataError, match="no training example has any feature"):
        clf.train(TrainingData([featureless("？", "a"), featureless("！", "b")]))


def test_a_featurizer_giving_two_widths_is_named_with_the_example(storage):
    odd = Message(data={TEXT: "odd", "intent": "greet"})
    odd.add_features(Features(scipy.sparse.coo_matrix(np.ones((1, VOCABULARY + 1))), "sentence", TEXT, "test"))
    clf = make(storage)
    with pytest.raises(UnusableTrainingDataError, match=r"featurizer test gave 7 .*text 'odd'"):
        clf.train(TrainingData([*TRAIN, odd]))


def test_the_layout_is_saved_with_the_model(storage):
    clf = make(storage)
    clf.train(TrainingData([with_dense(m, [0.5, 0.5]) for m in TRAIN]))
    context = ExecutionContext(GraphSchema({}), "test")
    loaded = LinearIntentClassifier.load(clf.config, storage, Resource("clf"), context)
    assert loaded.layout == clf.layout
    lacking = message([5, 5])  # no dense block: the loaded model still knows its width
    loaded.process([lacking])
    assert lacking.get("intent")["name"] == "stop"


def test_an_intent_with_a_single_example_does_not_flatten_every_confidence(storage, tmp_path):
    """It cannot be held out to fit the temperature; it used to switch the fit off for all intents."""
    alone = make(storage)
    alone.train(TrainingData(TRAIN))
    assert alone.temperature != 1.0
    (tmp_path / "other").mkdir()
    with_single = make(LocalModelStorage(tmp_path / "other"))
    with_single.train(TrainingData([*TRAIN, message([1, 2, 3, 4, 5], "rare")]))
    assert with_single.temperature == pytest.approx(alone.temperature)
    assert "rare" in with_single.model.classes_
