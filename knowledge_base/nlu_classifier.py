"""A small linear intent classifier for Rasa 3.6 over sparse n-gram features.

Use it in config.yml as `- name: knowledge_base.nlu_classifier.LinearIntentClassifier`.

Rasa's LogisticRegressionClassifier fits raw n-gram counts; long rambling messages then
outweigh short ones and frequent characters dominate.  This one scales the same features the way
text classifiers usually do (sublinear tf-idf, L2 length normalisation) and fits a linear SVM,
whose scores are turned into probabilities by cross-validated sigmoid calibration so that the
confidence a FallbackClassifier compares with its threshold means something.  `kind: logreg`
fits a logistic regression on the same scaled features instead.  bench/nlu measures both.
"""

from __future__ import annotations

import logging
from typing import Any

import joblib
import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack, vstack
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import LinearSVC

logger = logging.getLogger(__name__)

MODEL_FILE = "linear_intent_classifier.joblib"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LinearIntentClassifier(IntentClassifier, GraphComponent):
    """tf-idf scaled sparse sentence features -> calibrated LinearSVC (or logistic regression)."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Featurizer]

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "kind": "svm",  # svm (calibrated LinearSVC) or logreg
            "C": 1.0,
            "class_weight": "balanced",
            "calibration_folds": 3,  # svm only
            "random_state": 42,
            "ranking_length": 10,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Pipeline | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.model = model

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
    def validate_config(cls, config: dict[str, Any]) -> None:
        if config.get("kind", "svm") not in ("svm", "logreg"):
            raise ValueError(f"LinearIntentClassifier: kind must be 'svm' or 'logreg', not {config.get('kind')!r}")

    def _make_model(self) -> Pipeline:
        cfg = self.config
        if cfg["kind"] == "logreg":
            estimator: Any = LogisticRegression(
                C=cfg["C"], class_weight=cfg["class_weight"], max_iter=1000, random_state=cfg["random_state"]
            )
        else:
            svm = LinearSVC(C=cfg["C"], class_weight=cfg["class_weight"], random_state=cfg["random_state"])
            estimator = CalibratedClassifierCV(svm, cv=int(cfg["calibration_folds"]), method="sigmoid")
        return make_pipeline(TfidfTransformer(sublinear_tf=True), estimator)

    def _repeat_rare(self, x: csr_matrix, y: list[str]) -> tuple[csr_matrix, np.ndarray]:
        """Calibration needs every intent in every fold: an intent with fewer examples than
        folds has its examples repeated (only for the SVM's calibration; logreg needs none)."""
        folds = int(self.config["calibration_folds"])
        if self.config["kind"] != "svm":
            return x, np.asarray(y)
        rows = list(range(len(y)))
        for label, count in zip(*np.unique(y, return_counts=True), strict=True):
            if count < folds:
                own = [i for i in rows[: len(y)] if y[i] == label]
                rows += [own[k % count] for k in range(folds - count)]
        return x[rows], np.asarray([y[i] for i in rows])  # an array: sklearn 1.1 compares y == label

    @staticmethod
    def _features(messages: list[Message]) -> csr_matrix:
        rows = []
        for message in messages:
            sparse = message.get_sparse_features(TEXT)[1]  # [0] per token, [1] the sentence
            dense = message.get_dense_features(TEXT)[1]
            parts = [csr_matrix(sparse.features) if sparse is not None else csr_matrix((1, 0))]
            if dense is not None:
                parts.append(csr_matrix(dense.features))
            rows.append(hstack(parts).tocsr())
        return vstack(rows).tocsr()

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        y = [e.get(INTENT) for e in examples]
        if len(set(y)) < 2:
            logger.warning("LinearIntentClassifier: fewer than two intents in the training data; not trained.")
            return self._resource
        model = self._make_model()
        model.fit(*self._repeat_rare(self._features(examples), y))
        self.model = model
        self.persist()
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        if self.model is None or not messages:
            return messages
        probabilities = self.model.predict_proba(self._features(messages))
        classes = [str(c) for c in self.model.classes_]
        for message, row in zip(messages, probabilities, strict=True):
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
        with self._model_storage.write_to(self._resource) as model_dir:
            joblib.dump(self.model, model_dir / MODEL_FILE)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentClassifier:
        try:
            with model_storage.read_from(resource) as model_dir:
                model = joblib.load(model_dir / MODEL_FILE)
        except (ValueError, FileNotFoundError):
            logger.warning("LinearIntentClassifier: no trained model in the model storage; intents stay empty.")
            model = None
        return cls(config, model_storage, resource, model)
