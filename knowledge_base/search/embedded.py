"""The default backend: SQLite FTS5 over the store's own file, BM25 with per-field weights.

Chosen over an in-memory index and tantivy because it needs no extra service or process state:
the index is written in the same transaction as the entry (see store.py), so every process that
opens the file searches the latest published data with no reload step.  Speed is measured in
bench/retrieval (p95 well under the 2 ms target at 10k entries).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..documents import FIELD_WEIGHTS, FIELDS
from ..models import Entry
from ..store import Store
from .base import SearchHit, prepare_query
from .hits import make_hit

_WEIGHTS = ", ".join(str(FIELD_WEIGHTS[f]) for f in FIELDS)
# bm25() takes one weight per column, unindexed ones included (5 of them, weight 0).
_SQL = f"""
SELECT id, kind, domain, display_title, answer, {", ".join(FIELDS)},
       bm25(search_index, 0, 0, 0, 0, 0, {_WEIGHTS}) AS rank
FROM search_index WHERE search_index MATCH ? {{kind_filter}}
ORDER BY rank LIMIT ?
"""


def _match_expression(terms: Sequence[str]) -> str:
    # Every term quoted: FTS5 syntax characters in a citizen's message are then plain text.
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


class EmbeddedSearch:
    name = "embedded"

    def __init__(self, store: Store) -> None:
        self.store = store

    def search_sync(self, query: str, top_k: int = 5, kinds: Sequence[str] | None = None) -> list[SearchHit]:
        terms = prepare_query(query)
        if not terms or top_k <= 0:
            return []
        kind_filter = f"AND kind IN ({', '.join('?' * len(kinds))})" if kinds else ""
        rows = self.store.connection().execute(
            _SQL.format(kind_filter=kind_filter), (_match_expression(terms), *(kinds or ()), top_k)
        )
        hits = []
        for entry_id, kind, domain, title, answer, *field_values, rank in rows:
            row = {"id": entry_id, "kind": kind, "domain": domain, "title": title, "answer": answer}
            hits.append(make_hit(row, dict(zip(FIELDS, field_values, strict=True)), terms, -rank))
        return hits

    async def search(self, query: str, top_k: int = 5, kinds: Sequence[str] | None = None) -> list[SearchHit]:
        return await asyncio.to_thread(self.search_sync, query, top_k, kinds)

    async def index(self, entries: Sequence[Entry]) -> None:
        """Nothing to do: the store indexes each entry in the transaction that writes it."""

    async def remove(self, ids: Sequence[str]) -> None:
        """Nothing to do, as for index()."""

    async def close(self) -> None:
        self.store.close()
