"""The default backend: an in-memory BM25F index built from the store's own search rows.

What: every entry's indexed fields (title, questions, keywords, content; already stored by
store.py in the FTS5 table as space-joined canonical terms) are loaded into a sparse
entries x vocabulary matrix of precomputed BM25F weights (search/bm25f.py); a query sums a few
columns and takes the top k (at least RERANK_DEPTH), to which search/rerank.py applies its rule.

Why: SQLite FTS5's bm25() normalises length over the whole row, not per field, so a guide and its
own shorter Q&As swapped places, and an OR query scored ~4,000 of 10k rows in SQL.  bench/retrieval
measured FTS5 at test R@1 0.780 / R@3 0.934 and search p95 61.5 ms at 10k entries (core 56 ms,
3.4 ms of it re-running jieba for snippets).  This backend, tuned on the dev set only: test R@1
0.780 / R@3 0.939, and at 10k entries search p50 0.5 ms / p95 4.6 ms on the shared 2-core machine
(snippets by substring search, 0.04 ms).  See bench/retrieval/REPORT.md.

Freshness across processes: the store bumps a generation counter in the same transaction as every
write.  Each search reads it (one small SQL read) and rebuilds the index when it changed, reading
the counter and the rows in one read transaction, so a search never sees half a publish and a
reader in another process sees a publish on its next search.  A search over a current index runs
on the caller's thread (sub-millisecond); one that must rebuild goes to a worker thread.

The FTS5 table stays: it is the store's single-transaction copy of the indexed terms, and the
Elasticsearch backend reads it too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..documents import FIELDS
from ..models import Entry
from ..store import Store
from .base import SearchHit, prepare_query
from .dense import DenseStage, fetch_depth, make_stage, post_retrieval
from .hits import make_hit
from .rerank import FAMILY_SQL, Candidate, is_title_only

if TYPE_CHECKING:  # numpy and scipy load on the first search, not on import: worker processes
    # (the action server's, the tests' spawned readers) start half a second sooner.
    from .bm25f import Bm25fIndex, Bm25fParams, IndexRow

log = logging.getLogger(__name__)

_ROWS_SQL = f"""
SELECT s.id, s.kind, s.domain, s.display_title, s.answer, {FAMILY_SQL}, {", ".join("s." + f for f in FIELDS)}
FROM search_index AS s JOIN entries AS e ON e.id = s.id
"""
_GENERATION_SQL = "SELECT value FROM meta WHERE key = 'generation'"


def load_index(store: Store, params: Bm25fParams | None = None) -> Bm25fIndex:
    """A BM25F index of the store as of one consistent moment (one read transaction)."""
    from .bm25f import Bm25fIndex, IndexRow

    db = store.connection()
    db.execute("BEGIN")
    try:
        generation = int(db.execute(_GENERATION_SQL).fetchone()[0])
        rows = [
            IndexRow(entry_id, kind, domain, title, answer, dict(zip(FIELDS, terms, strict=True)), family)
            for entry_id, kind, domain, title, answer, family, *terms in db.execute(_ROWS_SQL)
        ]
    finally:
        db.execute("COMMIT")
    return Bm25fIndex(rows, generation, params)


def candidate_of(row: IndexRow, score: float) -> Candidate:
    return Candidate(
        row.id,
        row.kind,
        row.family or row.id,
        row.field_terms.get("title", ""),
        score,
        is_title_only(row.kind, row.field_terms),
    )


def load_rows(store: Store, ids: Sequence[str]) -> list[IndexRow]:
    """These entries' index rows, read from the store (for a backend without the in-memory index)."""
    from .bm25f import IndexRow

    if not ids:
        return []
    marks = ", ".join("?" * len(ids))
    rows = store.connection().execute(f"{_ROWS_SQL} WHERE s.id IN ({marks})", list(ids))
    return [
        IndexRow(entry_id, kind, domain, title, answer, dict(zip(FIELDS, terms, strict=True)), family)
        for entry_id, kind, domain, title, answer, family, *terms in rows
    ]


class EmbeddedSearch:
    name = "embedded"

    def __init__(self, store: Store, params: Bm25fParams | None = None, dense: bool | None = None) -> None:
        self.store = store
        self.params = params
        # The sentence-vector stage (search/dense.py); None when KB_DENSE is off.  `dense` overrides
        # the setting.  The Elasticsearch backend uses its fallback's stage, so one per store.
        self.dense: DenseStage | None = make_stage(store, dense)
        # True in the services (bot/curation.py): a publish of many entries returns at once and their
        # vectors are encoded in the background (knowledge_base/vector_builder.py).  Commands and
        # tests keep False: publish returns with every vector stored.
        self.background_vectors = False
        self._index: Bm25fIndex | None = None
        self._rebuild_lock = threading.Lock()  # one rebuild at a time; searches never wait otherwise

    def current_index(self) -> Bm25fIndex:
        """The index for the store's latest generation, rebuilt first if the store changed."""
        index = self._index
        if index is not None and index.generation == self.store.generation():
            return index
        with self._rebuild_lock:
            index = self._index  # another thread may have rebuilt while this one waited
            if index is None or index.generation != self.store.generation():
                started = time.perf_counter()
                index = load_index(self.store, self.params)
                self._index = index
                log.info(
                    "search index rebuilt: %d entries, generation %d, %.0f ms",
                    len(index),
                    index.generation,
                    (time.perf_counter() - started) * 1000,
                )
        return index

    def search_sync(self, query: str, top_k: int = 5, kinds: Sequence[str] | None = None) -> list[SearchHit]:
        terms = prepare_query(query)
        if not terms or top_k <= 0:
            return []
        index = self.current_index()
        rows: dict[str, IndexRow] = {}
        candidates = []
        for row, score in index.top(terms, fetch_depth(top_k, self.dense), kinds):
            rows[row.id] = row
            candidates.append(candidate_of(row, score))

        def recall(ids: Sequence[str]) -> list[Candidate]:
            """Candidates (lexical score 0) of entries the dense stage found and BM25F did not fetch."""
            found = []
            for entry_id in ids:
                row = index.row(entry_id)
                if row is not None and (not kinds or row.kind in kinds):
                    rows[row.id] = row
                    found.append(candidate_of(row, 0.0))
            return found

        hits = []
        for candidate in post_retrieval(query, terms, candidates, self.dense, recall)[:top_k]:
            row = rows[candidate.id]
            shown = {"id": row.id, "kind": row.kind, "domain": row.domain, "title": row.title, "answer": row.answer}
            hits.append(make_hit(shown, row.field_terms, terms, candidate.score))
        return hits

    async def search(self, query: str, top_k: int = 5, kinds: Sequence[str] | None = None) -> list[SearchHit]:
        # Over a current index a search is well under a millisecond of CPU, less than the hop to a
        # worker thread costs on a busy machine, so it runs right here.  A rebuild (about half a
        # second at 10k entries) goes to a worker thread, so the event loop never waits for one.
        # With the dense stage on, the query's encoding (~35 ms, the engine releases the GIL) goes
        # to a worker thread too.
        index = self._index
        if self.dense is None and index is not None and index.generation == self.store.generation():
            return self.search_sync(query, top_k, kinds)
        return await asyncio.to_thread(self.search_sync, query, top_k, kinds)

    async def index(self, entries: Sequence[Entry]) -> None:
        """The store indexes each entry's words in the transaction that writes it and bumps its
        generation, which the next search notices.  The sentence vectors of the changed entries are
        encoded here, at publish time, so no search waits for them (a load of the whole curated
        data takes about a minute the first time, with a progress bar)."""
        await self.refresh_vectors()

    async def remove(self, ids: Sequence[str]) -> None:
        """As for index(): the removed entries' vectors are dropped."""
        await self.refresh_vectors()

    async def refresh_vectors(self) -> None:
        if self.dense is not None and self.dense.available:
            await asyncio.to_thread(self._refresh_vectors_in_worker)

    def _refresh_vectors_in_worker(self) -> None:
        assert self.dense is not None
        try:
            if not (self.background_vectors and self.dense.encode_in_background()):
                self.dense.refresh()
        finally:
            # The worker thread's own SQLite connection is closed, so that when the caller closes
            # its connection it is the last one and SQLite folds the WAL back into the file.
            self.store.close()

    async def close(self) -> None:
        self._index = None
        self.store.close()
