"""A small linear intent classifier for Rasa 3.6 over sparse n-gram features.

Use it in config.yml as `- name: knowledge_base.nlu_classifier.LinearIntentClassifier`.

Rasa's LogisticRegressionClassifier fits raw n-gram counts.  This one scales the same features
the way text classifiers usually do (sublinear tf-idf, L2 length normalisation) and fits a
linear SVM, which trains in well under a second.  Its scores become probabilities by a softmax
whose temperature is fitted on 3-fold held-out scores (temperature scaling): the ranking is the
SVM's own and the confidence a FallbackClassifier compares with its threshold means something.
`kind: logreg` fits a logistic regression instead; with `tfidf: false` it is the model of Rasa's
LogisticRegressionClassifier, saved with joblib rather than skops: loading skops imports every
scikit-learn estimator to list the trusted types, several seconds of every Rasa server start.
bench/nlu measures these against Rasa's own classifiers.

Every featurizer adds its own block of sentence features, but only to the messages it has
something for: Rasa's CountVectorsFeaturizer and ours skip a message in which the tokenizer found
no word ("？？？", "ｈｉ").  So the classifier learns the layout of the blocks (origin and width of
each) from the training examples, keeps it with the model, and builds every row from it, a block
of zeros where a featurizer had nothing: the same columns at training and at inference, whatever
the data (issue #13: rows of different widths made scipy refuse to stack them).  An example with
no feature at all cannot teach anything and is left out with a warning naming it; data that leaves
no example, or an intent without any usable example, is refused with an error that names them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME as NLU_FALLBACK
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.optimize import minimize_scalar
from scipy.sparse import csr_matrix, hstack, vstack
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import LinearSVC

from .nlu_common import load_from_model_storage, save_to_model_storage

logger = logging.getLogger(__name__)

MODEL_FILE = "linear_intent_classifier.joblib"
LAYOUT_VERSION = "feature-layout-1"  # in the fingerprint: a cached model from before the layout retrains


class UnusableTrainingDataError(RasaException, ValueError):
    """The training data leaves the classifier nothing to learn from (see the message)."""


@dataclass(frozen=True)
class Block:
    """One featurizer's sentence features: which featurizer, sparse or dense, how many columns."""

    origin: str
    sparse: bool
    width: int


def sentence_features(message: Message) -> dict[tuple[bool, str], Features]:
    """The message's sentence-level text features by (sparse?, origin)."""
    return {
        (f.is_sparse(), str(f.origin)): f
        for f in message.features
        if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE
    }


def describe(example: Message) -> str:
    return f"intent {example.get(INTENT)!r}, text {example.get(TEXT)!r}"


def feature_layout(examples: list[Message]) -> tuple[Block, ...]:
    """The blocks that occur in any of the examples: the sparse ones first, then the dense ones,
    each group in the order of the featurizers' names.  A featurizer must give every message a
    block of one width; one that does not is a bug in it, reported with the example."""
    widths: dict[tuple[bool, str], int] = {}
    for example in examples:
        for key, feature in sentence_features(example).items():
            width = int(feature.features.shape[-1])
            if widths.setdefault(key, width) != width:
                raise UnusableTrainingDataError(
                    f"LinearIntentClassifier: featurizer {key[1]} gave {width} sentence features to "
                    f"({describe(example)}) but {widths[key]} to an earlier example"
                )
    order = sorted(widths, key=lambda key: (not key[0], key[1]))
    return tuple(Block(origin, sparse, widths[sparse, origin]) for sparse, origin in order)


def _examples_list(examples: list[Message], limit: int = 10) -> str:
    shown = "; ".join(f"({describe(e)})" for e in examples[:limit])
    return shown + (f"; and {len(examples) - limit} more" if len(examples) > limit else "")


class SparseTfidf(BaseEstimator, TransformerMixin):
    """tf-idf over the sparse n-gram count columns, which come first in blocks of the given widths:
    one block for all of them, or one per featurizer so that each block is L2-normalised on its
    own and a small block (LAC's tags) is not drowned by a large one (character n-grams).  The
    columns after the blocks (dense features such as knowledge_base.nlu_e5_featurizer's) pass
    through as they are: tf-idf of a signed dense vector means nothing, its featurizer scales it."""

    def __init__(self, blocks: tuple[int, ...]) -> None:
        self.blocks = blocks

    def _spans(self) -> list[tuple[int, int]]:
        ends = np.cumsum(self.blocks)
        return [(int(end - width), int(end)) for width, end in zip(self.blocks, ends, strict=True)]

    def fit(self, x: csr_matrix, y: Any = None) -> SparseTfidf:
        self.tfidf_ = [TfidfTransformer(sublinear_tf=True).fit(x[:, a:b]) for a, b in self._spans()]
        return self

    def transform(self, x: csr_matrix) -> csr_matrix:
        spans = self._spans()
        parts = [tfidf.transform(x[:, a:b]) for tfidf, (a, b) in zip(self.tfidf_, spans, strict=True)]
        n_sparse = spans[-1][1] if spans else 0
        if x.shape[1] > n_sparse:
            parts.append(x[:, n_sparse:])
        return hstack(parts).tocsr()


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LinearIntentClassifier(IntentClassifier, GraphComponent):
    """tf-idf scaled sparse sentence features -> LinearSVC with temperature scaling (or logreg)."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Featurizer]

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "kind": "svm",  # svm or logreg
            "C": 1.0,
            "tfidf": True,  # false: the raw counts, as Rasa's LogisticRegressionClassifier fits them
            # tf-idf and L2-normalise each sparse featurizer's columns on their own, not all together
            "tfidf_per_featurizer": False,
            "max_iter": 1000,  # logreg only
            "class_weight": "balanced",
            "random_state": 42,
            "ranking_length": 10,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Pipeline | None = None,
        temperature: float = 1.0,
        layout: tuple[Block, ...] | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.model = model
        self.temperature = temperature
        # None for a model saved before the layout was kept: then each batch's own blocks are used
        self.layout = layout

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearIntentClassifier:
        return cls(config, model_storage, resource)

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        return LAYOUT_VERSION

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if config.get("kind", "svm") not in ("svm", "logreg"):
            raise ValueError(f"LinearIntentClassifier: kind must be 'svm' or 'logreg', not {config.get('kind')!r}")

    def _make_model(self, blocks: tuple[int, ...]) -> Pipeline:
        cfg = self.config
        if cfg["kind"] == "logreg":
            estimator: Any = LogisticRegression(
                C=cfg["C"], class_weight=cfg["class_weight"], max_iter=cfg["max_iter"], random_state=cfg["random_state"]
            )
        else:
            estimator = LinearSVC(C=cfg["C"], class_weight=cfg["class_weight"], random_state=cfg["random_state"])
        if cfg["tfidf"]:
            return make_pipeline(SparseTfidf(blocks), estimator)
        return make_pipeline(estimator)

    def _fit_temperature(self, x: csr_matrix, blocks: tuple[int, ...], y: np.ndarray) -> float:
        """The softmax temperature that makes held-out SVM scores most likely (up to 3 folds).
        Intents with a single example cannot be held out: they are left out of this fit (not of
        the model), or one such intent would leave every intent at temperature 1, confidences too
        flat for the FallbackClassifier's threshold (SMP2019 has two; 410 of its 480 test
        messages fell back)."""
        classes, counts = np.unique(y, return_counts=True)
        kept = classes[counts >= 2]
        if len(kept) < 3:  # too little data to hold any out, or binary scores
            return 1.0
        folds = int(min(3, counts[counts >= 2].min()))
        mask = np.isin(y, kept)
        x, y = x[mask], y[mask]
        cv = StratifiedKFold(folds, shuffle=True, random_state=self.config["random_state"])
        scores = cross_val_predict(self._make_model(blocks), x, y, cv=cv, method="decision_function")
        truth = np.searchsorted(kept, y)

        def nll(log_t: float) -> float:
            z = scores / np.exp(log_t)
            z = z - z.max(axis=1, keepdims=True)
            return float(-(z[np.arange(len(y)), truth] - np.log(np.exp(z).sum(axis=1))).mean())

        return float(np.exp(minimize_scalar(nll, bounds=(-5.0, 3.0), method="bounded").x))

    def _features(self, messages: list[Message]) -> tuple[csr_matrix, tuple[int, ...]]:
        """One row per message in the layout's columns (zeros for a block the message lacks); and
        the widths of the sparse blocks (one width for all of them unless `tfidf_per_featurizer`)."""
        layout = self.layout if self.layout is not None else feature_layout(messages)
        rows = []
        for message in messages:
            found = sentence_features(message)
            parts = []
            for block in layout:
                feature = found.get((block.sparse, block.origin))
                parts.append(csr_matrix((1, block.width)) if feature is None else csr_matrix(feature.features))
            rows.append(hstack(parts).tocsr() if parts else csr_matrix((1, 0)))
        widths = [b.width for b in layout if b.sparse]
        blocks = tuple(widths) if self.config["tfidf_per_featurizer"] else (sum(widths),)
        return vstack(rows).tocsr(), blocks

    def _understood(self, message: Message) -> bool:
        """Whether any featurizer of the layout gave the message features."""
        found = sentence_features(message)
        if self.layout is None:  # as models saved before the layout decided: by the sparse features
            return any(sparse for sparse, _ in found)
        return any((b.sparse, b.origin) in found for b in self.layout)

    def _usable_examples(self, examples: list[Message]) -> list[Message]:
        """The examples with features; the others are named in a warning, and data that leaves
        no example, or an intent without one, is refused."""
        usable = [e for e in examples if sentence_features(e)]
        skipped = [e for e in examples if not sentence_features(e)]
        if not usable:
            raise UnusableTrainingDataError(
                "LinearIntentClassifier: no training example has any feature (did the pipeline's tokenizer "
                f"find no word in any of them?): {_examples_list(examples)}"
            )
        left = {e.get(INTENT) for e in usable}
        lost = [e for e in skipped if e.get(INTENT) not in left]
        if lost:
            intents = ", ".join(sorted({repr(e.get(INTENT)) for e in lost}))
            raise UnusableTrainingDataError(
                f"LinearIntentClassifier: no example of intent {intents} has any feature: the tokenizer finds no "
                f"word in {_examples_list(lost)}.  Add examples with words, or remove the intent."
            )
        if skipped:
            logger.warning(
                "LinearIntentClassifier: %d training example(s) without any feature (no word for the tokenizer) "
                "left out; messages like them are answered as not understood (%s): %s",
                len(skipped),
                NLU_FALLBACK,
                _examples_list(skipped),
            )
        return usable

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if len({e.get(INTENT) for e in examples}) < 2:
            logger.warning("LinearIntentClassifier: fewer than two intents in the training data; not trained.")
            return self._resource
        examples = self._usable_examples(examples)
        labels = np.asarray([e.get(INTENT) for e in examples])  # an array: sklearn 1.1 compares y == label
        self.layout = feature_layout(examples)
        x, blocks = self._features(examples)
        self.model = self._make_model(blocks).fit(x, labels)
        self.temperature = self._fit_temperature(x, blocks, labels) if self.config["kind"] == "svm" else 1.0
        self.persist()
        return self._resource

    def _probabilities(self, x: csr_matrix) -> np.ndarray:
        assert self.model is not None
        if self.config["kind"] != "svm":
            return self.model.predict_proba(x)
        scores = self.model.decision_function(x)
        if scores.ndim == 1:  # two intents: sklearn returns one column
            scores = np.column_stack([-scores, scores])
        z = scores / self.temperature
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def process(self, messages: list[Message]) -> list[Message]:
        if self.model is None or not messages:
            return messages
        # A message with no word in it ("", "？？？") has no features: nothing to classify, so it is
        # Rasa's "not understood" (nlu_fallback), which the dialogue answers by asking to rephrase.
        understood = [m for m in messages if self._understood(m)]
        for message in messages:
            if not self._understood(message):
                fallback = {"name": NLU_FALLBACK, "confidence": 1.0}
                message.set(INTENT, fallback, add_to_output=True)
                message.set("intent_ranking", [fallback], add_to_output=True)
        if not understood:
            return messages
        probabilities = self._probabilities(self._features(understood)[0])
        classes = [str(c) for c in self.model.classes_]
        for message, row in zip(understood, probabilities, strict=True):
            order = np.argsort(-row)
            ranking = [{"name": classes[i], "confidence": float(row[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            if self.config["ranking_length"] > 0:
                ranking = ranking[: self.config["ranking_length"]]
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def persist(self) -> None:
        layout = None if self.layout is None else [(b.origin, b.sparse, b.width) for b in self.layout]
        saved = {"model": self.model, "temperature": self.temperature, "layout": layout}
        save_to_model_storage(self._model_storage, self._resource, MODEL_FILE, saved)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentClassifier:
        saved = load_from_model_storage(model_storage, resource, MODEL_FILE)
        if saved is None:
            logger.warning("LinearIntentClassifier: no trained model in the model storage; intents stay empty.")
            return cls(config, model_storage, resource)
        layout = saved.get("layout")  # absent from models saved before the layout was kept
        layout = None if layout is None else tuple(Block(*block) for block in layout)
        return cls(config, model_storage, resource, saved["model"], saved["temperature"], layout)
