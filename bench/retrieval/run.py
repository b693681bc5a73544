"""Running the benchmark: scratch stores, the question sets through `KnowledgeBase.search`, and
warm-query latency at several corpus sizes."""

from __future__ import annotations

import dataclasses
import gc
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from knowledge_base import embeddings
from knowledge_base.kb import KnowledgeBase
from knowledge_base.models import Entry
from knowledge_base.search.base import SearchHit, prepare_query
from knowledge_base.search.dense import DenseStage
from knowledge_base.search.hits import snippet
from knowledge_base.settings import Settings

from .metrics import Scores, first_relevant_rank, percentile, score, score_by_group
from .questions import Question

RANK_DEPTH = 10  # results fetched per question: enough for MRR@10
LATENCY_TOP_K = 5  # what the assistant asks for


@dataclass
class QuestionResult:
    question: Question
    rank: int | None  # 1-based rank of the first expected entry, None if not in the top RANK_DEPTH
    got: list[tuple[str, str]]  # (id, title) of the top hits


@dataclass
class SetResult:
    name: str
    results: list[QuestionResult]
    overall: Scores = field(init=False)
    by_domain: dict[str, Scores] = field(init=False)

    def __post_init__(self) -> None:
        ranks = [r.rank for r in self.results]
        self.overall = score(ranks)
        self.by_domain = score_by_group(ranks, [r.question.domain for r in self.results])

    def misses(self) -> list[QuestionResult]:
        """Questions whose first hit is not a correct entry, worst first."""
        missed = [r for r in self.results if r.rank != 1]
        return sorted(missed, key=lambda r: (r.rank is not None, -(r.rank or 0)))


@dataclass
class LatencyResult:
    label: str  # "curated", "1k", "10k"
    entries: dict[str, int]  # per kind
    build_seconds: float
    queries: int  # timed calls per measure
    search_ms: list[float]  # await KnowledgeBase.search(...) — the assistant's path
    search_sync_ms: list[float]  # the backend's synchronous core (embedded only), no thread hop
    snippet_ms: list[float]  # snippet building for the hits of one query

    def summary(self, values: list[float]) -> dict[str, float]:
        if not values:
            return {}
        return {p: percentile(values, q) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))} | {
            "mean": sum(values) / len(values)
        }


def scratch_settings(backend: str, workdir: Path, name: str) -> Settings:
    """Settings for a throw-away store; Elasticsearch URL and credentials come from KB_ES_*."""
    base = Settings.from_env(db_path=workdir / f"{name}.sqlite3")
    return dataclasses.replace(
        base, data_dir=workdir, backend=backend, es_index_prefix=f"{base.es_index_prefix}-bench-{name}"
    )


class BackendNotServingError(RuntimeError):
    """The chosen backend is answering from its fallback: measuring it would measure the wrong thing."""


async def build_kb(
    backend: str, entries: Sequence[Entry], workdir: Path, name: str, dense: bool = False
) -> tuple[KnowledgeBase, float]:
    """A scratch knowledge base holding exactly `entries`, and the seconds it took to build
    (with `dense`, including encoding the entries' sentence vectors: search/dense.py)."""
    kb = KnowledgeBase.open(scratch_settings(backend, workdir, name))
    # The dense stage lives in the embedded backend (the Elasticsearch backend uses its fallback's).
    holder = getattr(kb.backend, "fallback", kb.backend)
    holder.dense = DenseStage(kb.store) if dense else None
    started = time.perf_counter()
    batch = 500
    for start in tqdm(range(0, len(entries), batch), desc=f"index {name}", unit="batch", leave=False):
        await kb.publish(list(entries[start : start + batch]), author="bench")
    if backend != "embedded":
        await _make_serving(kb, backend)
    return kb, time.perf_counter() - started


async def _make_serving(kb: KnowledgeBase, backend: str) -> None:
    # A remote backend quietly answers from the embedded index when it is not ready; rebuild its
    # index from the store and insist that it serves, or the numbers would be the fallback's.
    reindex = getattr(kb.backend, "reindex", None)
    check = getattr(kb.backend, "check_health", None)
    try:
        if reindex is not None:
            await reindex(progress=False)
        health = await check() if check is not None else {"serving": backend}
    except Exception as error:
        await kb.close()
        raise BackendNotServingError(f"{backend} is not usable: {error}") from error
    if health.get("serving") != backend:
        await kb.close()
        raise BackendNotServingError(f"{backend} is not serving queries ({health.get('reason')}); check KB_ES_URL")


def fallback_queries(kb: KnowledgeBase) -> int:
    """Queries a remote backend answered from its embedded fallback (0 for the embedded one)."""
    health = getattr(kb.backend, "health", None)
    if kb.backend.name == "embedded" or health is None:
        return 0
    return int(health().get("queries", {}).get("embedded", 0))


async def drop_scratch_index(kb: KnowledgeBase) -> None:
    """Delete the physical indices behind a remote backend's scratch alias (best effort)."""
    client, alias = getattr(kb.backend, "client", None), getattr(kb.backend, "alias", None)
    if client is None or not alias or "-bench-" not in alias:
        return
    try:
        for index in await client.indices.get_alias(name=alias):
            await client.indices.delete(index=index)
    except Exception as error:  # leftovers are harmless scratch indices; say so and go on
        print(f"note: scratch index {alias} not deleted: {error}")


async def evaluate(kb: KnowledgeBase, name: str, questions: Sequence[Question]) -> SetResult:
    results = []
    for question in tqdm(questions, desc=f"questions {name}", unit="q", leave=False):
        hits: list[SearchHit] = await kb.search(question.q, top_k=RANK_DEPTH)
        ranking = [h.id for h in hits]
        results.append(
            QuestionResult(question, first_relevant_rank(ranking, question.expected), [(h.id, h.title) for h in hits])
        )
    return SetResult(name, results)


async def measure_latency(
    kb: KnowledgeBase, label: str, entries: dict[str, int], build_seconds: float, queries: Sequence[str], repeat: int
) -> LatencyResult:
    """Warm-query timings in milliseconds: every query once untimed, then `repeat` shuffled rounds."""
    rng = random.Random(7)
    search_sync = getattr(kb.backend, "search_sync", None)
    for query in queries:  # warm caches: page cache, jieba, SQLite statement cache
        await kb.search(query, top_k=LATENCY_TOP_K)
    search_ms: list[float] = []
    sync_ms: list[float] = []
    snippet_ms: list[float] = []
    terms = {q: prepare_query(q) for q in queries}
    gc.collect()
    for _ in tqdm(range(repeat), desc=f"latency {label}", unit="round", leave=False):
        order = list(queries)
        rng.shuffle(order)
        for query in order:
            started = time.perf_counter()
            hits = await kb.search(query, top_k=LATENCY_TOP_K)
            search_ms.append((time.perf_counter() - started) * 1000)
            if search_sync is not None:
                started = time.perf_counter()
                search_sync(query, LATENCY_TOP_K)
                sync_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            for hit in hits:
                snippet(hit.answer, terms[query])
            snippet_ms.append((time.perf_counter() - started) * 1000)
    return LatencyResult(label, entries, build_seconds, len(search_ms), search_ms, sync_ms, snippet_ms)


# Sentence vectors of entry texts, kept between runs: the export corpus's 4,000 texts take about
# 15 minutes to encode on one core.  Keyed by the exact text and the model name, so a changed
# wording or model is encoded again; bench/work/ is not committed.
VECTOR_CACHE = Path(__file__).resolve().parents[1] / "work" / "retrieval-vectors.npz"


def load_vector_cache(path: Path = VECTOR_CACHE) -> int:
    """Seed the process's text memo (knowledge_base.embeddings) from `path`; texts loaded."""
    if not path.exists():
        return 0
    with np.load(path, allow_pickle=False) as data:
        if str(data["model"]) != embeddings.MODEL_NAME:
            return 0
        texts = json.loads(str(data["texts"]))
        embeddings._remember(zip(texts, data["vectors"], strict=True))
    return len(texts)


def save_vector_cache(path: Path = VECTOR_CACHE) -> int:
    """Write the process's text memo to `path`; texts written."""
    memo = dict(embeddings._MEMO)
    if not memo:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    vectors = np.stack(list(memo.values())).astype(np.float32)
    np.savez(path, model=embeddings.MODEL_NAME, texts=json.dumps(list(memo), ensure_ascii=False), vectors=vectors)
    return len(memo)
