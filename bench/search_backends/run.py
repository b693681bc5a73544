"""Measuring both backends on one corpus size: indexing, start-up check, query latency, agreement."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from elasticsearch import AsyncElasticsearch
from tqdm import tqdm

from bench.retrieval.corpus import describe, grow
from knowledge_base.loader import load_data_dir
from knowledge_base.models import QA, Entry, Guide
from knowledge_base.search.elastic import ElasticsearchSearch, make_client
from knowledge_base.search.embedded import EmbeddedSearch
from knowledge_base.settings import Settings
from knowledge_base.store import Store

from .direct import direct_client

Connect = Callable[[Settings], AsyncElasticsearch]

QUESTIONS = Path(__file__).resolve().parent.parent / "retrieval" / "questions.yml"
TOP_K = 5  # what the assistant asks for
WARM_UP = 100  # queries per size and backend before timing
JVM_WARM_UP = 1500  # more on the first size: a fresh node's JIT compiles its hot paths meanwhile
UPSERT_BATCH = 1000


@dataclass
class SizeResult:
    size: int
    kinds: dict[str, int]
    embedded_index_s: float  # store.upsert of every entry: jieba + SQLite (FTS5 in the same transaction)
    es_reindex_s: float  # full reindex from the store into a new index, alias swap included
    es_start_s: float  # a new process's start-up check: probe, index metadata, compare with the store
    sqlite_mb: float
    es_index_mb: float
    embedded_ms: list[float] = field(default_factory=list)
    es_ms: list[float] = field(default_factory=list)
    same_first_hit: float = 0.0
    fallbacks: int = 0  # queries the Elasticsearch backend had to answer from the fallback

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def bench_queries(curated: Sequence[Entry], count: int, seed: int = 7) -> list[str]:
    """Citizen questions: the retrieval benchmark's test set when present, then curated wordings."""
    pool: list[str] = []
    if QUESTIONS.is_file():
        pool += [str(item["q"]) for item in yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))["questions"]]
    for entry in curated:
        if isinstance(entry, QA):
            pool += entry.similar
        elif isinstance(entry, Guide):
            pool += entry.aliases
    pool = list(dict.fromkeys(pool))
    return random.Random(seed).sample(pool, min(count, len(pool)))


def bench_settings(base: Settings, url: str, prefix: str, db_path: Path) -> Settings:
    return dataclasses.replace(
        base,
        db_path=db_path,
        backend="elasticsearch",
        es_url=url,
        es_index_prefix=prefix,
        es_timeout=10.0,  # a benchmark measures the cluster, it should not fall back
        es_health_interval=3600.0,
    )


async def _timed(coro: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = await coro
    return (time.perf_counter() - start) * 1000, result


def backend_for(settings: Settings, store: Store, connect: Connect) -> ElasticsearchSearch:
    return ElasticsearchSearch(
        connect(settings),
        store,
        EmbeddedSearch(store),
        prefix=settings.es_index_prefix,
        url=settings.es_url or "",
        query_timeout=settings.es_timeout,
        health_interval=settings.es_health_interval,
    )


async def measure_size(
    size: int, queries: Sequence[str], base: Settings, url: str, workdir: Path, connect: Connect, first: bool
) -> SizeResult:
    curated = load_data_dir()
    entries = grow(curated, size)  # the same recombined corpora as the retrieval benchmark
    db_path = workdir / f"kb-{size}.sqlite3"
    store = Store(db_path)

    start = time.perf_counter()
    with tqdm(total=len(entries), desc=f"embedded index {size}", unit=" entries") as bar:
        for i in range(0, len(entries), UPSERT_BATCH):
            batch = entries[i : i + UPSERT_BATCH]
            store.upsert(batch, author="bench")
            bar.update(len(batch))
    embedded_index_s = time.perf_counter() - start

    prefix = f"jsb-kb-bench-{size}-{secrets.token_hex(2)}"
    settings = bench_settings(base, url, prefix, db_path)
    backend = backend_for(settings, store, connect)
    fallback = backend.fallback
    try:
        start = time.perf_counter()
        name = await backend.reindex(progress=True)
        es_reindex_s = time.perf_counter() - start

        # A second process starting on the same store and index: what it costs before it serves.
        other = backend_for(settings, Store(db_path), connect)
        start = time.perf_counter()
        await other.start()
        es_start_s = time.perf_counter() - start
        assert other.health()["serving"] == "elasticsearch", other.health()
        await other.close()

        assert backend.client is not None
        stats = await backend.client.indices.stats(index=name, metric="store")
        es_index_mb = stats["indices"][name]["primaries"]["store"]["size_in_bytes"] / 1e6
        result = SizeResult(
            size=size,
            kinds=describe(entries),
            embedded_index_s=embedded_index_s,
            es_reindex_s=es_reindex_s,
            es_start_s=es_start_s,
            sqlite_mb=db_path.stat().st_size / 1e6,
            es_index_mb=es_index_mb,
        )

        for number in range(JVM_WARM_UP if first else WARM_UP):
            await backend.search(queries[number % len(queries)], top_k=TOP_K)
        for query in queries[:WARM_UP]:
            await fallback.search(query, top_k=TOP_K)
        before = backend.health()["queries"]["embedded"]
        same = 0
        for number, query in enumerate(tqdm(queries, desc=f"queries {size}", unit=" q")):
            # Alternate which backend goes first, so neither always meets a warmer cache.
            if number % 2:
                es_ms, es_hits = await _timed(backend.search(query, top_k=TOP_K))
                emb_ms, emb_hits = await _timed(fallback.search(query, top_k=TOP_K))
            else:
                emb_ms, emb_hits = await _timed(fallback.search(query, top_k=TOP_K))
                es_ms, es_hits = await _timed(backend.search(query, top_k=TOP_K))
            result.embedded_ms.append(emb_ms)
            result.es_ms.append(es_ms)
            same += [h.id for h in es_hits[:1]] == [h.id for h in emb_hits[:1]]
        result.same_first_hit = same / max(1, len(queries))
        result.fallbacks = backend.health()["queries"]["embedded"] - before
    finally:
        assert backend.client is not None
        await backend.client.options(ignore_status=404).indices.delete(index=f"{prefix}.v*")
        await backend.close()
        for path in workdir.glob(f"kb-{size}.sqlite3*"):
            path.unlink()
    return result


async def round_trip_ms(client: AsyncElasticsearch, samples: int = 200) -> float:
    """Median time of the cheapest request (cluster health): the fixed cost of one query's HTTP
    round trip through the client (and, on the test node, through its compatibility proxy)."""
    times = []
    for _ in range(samples):
        ms, _ = await _timed(client.cluster.health())
        times.append(ms)
    return sorted(times)[len(times) // 2]


async def run(
    sizes: Sequence[int], query_count: int, base: Settings, url: str, raw_url: str | None = None
) -> dict[str, Any]:
    """Measure every size.  `raw_url`: the OpenSearch test node's own port, reached without its
    compatibility proxy (see direct.py); None for a real Elasticsearch cluster."""

    def connect(settings: Settings) -> AsyncElasticsearch:
        if raw_url:
            return direct_client(raw_url, settings.es_timeout)
        return make_client(settings)

    curated = load_data_dir()
    queries = bench_queries(curated, query_count)
    workdir = Path(tempfile.mkdtemp(prefix="jsb-bench-backends-"))
    client = make_client(dataclasses.replace(base, es_url=url, es_timeout=30.0))
    direct = direct_client(raw_url, 30.0) if raw_url else None
    try:
        info = (await client.info()).body
        round_trip = {("direct to the node" if direct else "to the cluster"): await round_trip_ms(direct or client)}
        if direct:
            round_trip["through the test node's proxy"] = await round_trip_ms(client, samples=50)
        results = [
            await measure_size(size, queries, base, url, workdir, connect, first=number == 0)
            for number, size in enumerate(sizes)
        ]
    finally:
        await client.close()
        if direct:
            await direct.close()
        shutil.rmtree(workdir, ignore_errors=True)
    version = info.get("version", {})
    return {
        "measured_at": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        "engine": f"{version.get('distribution', 'elasticsearch')} {version.get('number', '?')}",
        "direct": bool(raw_url),
        "queries": len(queries),
        "curated_entries": len(curated),
        "round_trip_ms": round_trip,
        "results": [r.to_dict() for r in results],
    }


def run_sync(
    sizes: Sequence[int], query_count: int, base: Settings, url: str, raw_url: str | None = None
) -> dict[str, Any]:
    return asyncio.run(run(sizes, query_count, base, url, raw_url))
