"""An in-memory BM25F index over the store's search rows: per-field length normalisation, field
weights, one saturation per term and entry.

For term t and entry d:  tf~ = sum over fields f of  w_f * tf_f / (1 - b_f + b_f * len_f / avglen_f),
score = sum over the query's terms of  idf(t) * tf~ * (k1 + 1) / (k1 + tf~).
Everything but the query is known at build time, so the per-(entry, term) score is precomputed in a
sparse matrix stored by column (entries x vocabulary): a query sums a few columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
from scipy import sparse

from ..documents import FIELD_WEIGHTS, FIELDS


@dataclass(frozen=True)
class Bm25fParams:
    k1: float = 1.2
    # Length normalisation per field (0 = none, 1 = full), chosen on bench/retrieval's dev set:
    # none for titles and keywords (a guide's aliases make its title long, and that must not count
    # against it), some for the citizens' wordings, the usual 0.75 for the answer text.
    b: Mapping[str, float] = field(
        default_factory=lambda: {"title": 0.0, "questions": 0.3, "keywords": 0.0, "content": 0.75}
    )
    weights: Mapping[str, float] = field(default_factory=lambda: dict(FIELD_WEIGHTS))


@dataclass(frozen=True)
class IndexRow:
    """What a hit needs from one entry: shown values and its indexed terms (for explaining)."""

    id: str
    kind: str
    domain: str
    title: str
    answer: str
    field_terms: dict[str, str]  # field -> space-joined canonical terms
    family: str = ""  # a Q&A's guide, else the entry's own id (search/rerank.py); "" = its own id


class Bm25fIndex:
    """Immutable once built: searches from many threads share it without locking."""

    def __init__(self, rows: Sequence[IndexRow], generation: int, params: Bm25fParams | None = None) -> None:
        self.params = params or Bm25fParams()
        self.generation = generation
        # Sorted by id, so equal scores come out in the same order in every process.
        self.rows = sorted(rows, key=lambda r: r.id)
        self.vocabulary: dict[str, int] = {}
        self._kinds = np.array([r.kind for r in self.rows], dtype=object)
        self._by_id = {r.id: r for r in self.rows}
        self._matrix = self._weights()

    def __len__(self) -> int:
        return len(self.rows)

    def row(self, entry_id: str) -> IndexRow | None:
        return self._by_id.get(entry_id)

    def _weights(self) -> sparse.csc_matrix:
        params, vocabulary = self.params, self.vocabulary
        n = len(self.rows)
        # Per field: (entry of every term occurrence, its term id, the entry's normalised weight).
        occurrences: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for name in FIELDS:
            split = [row.field_terms.get(name, "").split() for row in self.rows]
            lengths = np.fromiter(map(len, split), dtype=np.float64, count=n)
            flat = list(chain.from_iterable(split))
            for term in dict.fromkeys(flat):  # new terms get the next ids, in order of appearance
                vocabulary.setdefault(term, len(vocabulary))
            term_ids = np.fromiter(map(vocabulary.__getitem__, flat), dtype=np.int64, count=len(flat))
            average = lengths.mean() if lengths.any() else 1.0
            b = params.b[name]
            norm = params.weights[name] / (1.0 - b + b * lengths / average)
            docs = np.repeat(np.arange(n, dtype=np.int64), lengths.astype(np.int64))
            occurrences.append((docs, term_ids, norm[docs]))
        docs = np.concatenate([o[0] for o in occurrences])
        terms = np.concatenate([o[1] for o in occurrences])
        values = np.concatenate([o[2] for o in occurrences])
        # Duplicates are summed on conversion: tf~, the weighted, normalised term frequency.
        matrix = sparse.csc_matrix((values, (docs, terms)), shape=(n, len(vocabulary)))
        matrix.sum_duplicates()
        df = np.diff(matrix.indptr).astype(np.float64)
        # Lucene's idf, never negative: a term found in most entries still counts a little.
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        columns = np.repeat(np.arange(len(vocabulary)), np.diff(matrix.indptr))
        tf, k1 = matrix.data, params.k1
        matrix.data = idf[columns] * tf * (k1 + 1.0) / (k1 + tf)
        return matrix

    def top(self, terms: Sequence[str], k: int, kinds: Sequence[str] | None = None) -> list[tuple[IndexRow, float]]:
        """The k best-scoring rows (score > 0) for these distinct query terms, best first."""
        columns = [self.vocabulary[t] for t in terms if t in self.vocabulary]
        if not columns or k <= 0:
            return []
        matrix = self._matrix
        starts, ends = matrix.indptr[columns], matrix.indptr[np.array(columns) + 1]
        docs = np.concatenate([matrix.indices[s:e] for s, e in zip(starts, ends, strict=True)])
        weights = np.concatenate([matrix.data[s:e] for s, e in zip(starts, ends, strict=True)])
        scores = np.bincount(docs, weights=weights, minlength=len(self.rows))
        if kinds:
            scores[~np.isin(self._kinds, list(kinds))] = 0.0
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            # Keep everything tied with the k-th best, so which of equal scores make the cut
            # does not depend on argpartition's order.
            kth = -np.partition(-scores[candidates], k - 1)[k - 1]
            candidates = candidates[scores[candidates] >= kth]
        # Best first; equal scores by id (rows are sorted by id).
        order = candidates[np.lexsort((candidates, -scores[candidates]))][:k]
        return [(self.rows[d], float(scores[d])) for d in order]
