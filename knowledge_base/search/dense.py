"""The dense stage shared by both backends: the nearest entries by sentence vectors join the lexical
top DENSE_DEPTH, and all of them are re-scored with those vectors (multilingual-e5-small,
knowledge_base/embeddings.py).

What: every entry's similarity to the query = NAME_SHARE x (best cosine between the query and one
of the entry's names) + (1 - NAME_SHARE) x (cosine between the query and the entry as a whole),
computed for all entries at once (one matrix-vector product).  The DENSE_RECALL most similar
entries the lexical candidates lack are added with a lexical score of 0 (the dense recall; each
backend makes their candidates from its own rows).  Both the BM25F scores and the similarities are
scaled to 0..1 over the candidates (score / best score; min-max for the similarity), and mixed:
hybrid = (1 - WEIGHT) x lexical + WEIGHT x similarity.  A hit's score is hybrid x the best BM25F
score of the list, so it stays on the BM25F scale that actions/config.py's floor was set on (the
best hit scores at most what BM25F gave the best one).  A query no entry shares a word with gets
no hits: the recall adds to lexical candidates, it does not replace them.

Why: the lexical misses are a guide against its own Q&A and long stories, where the question and
the candidates share the same words; what tells them apart is meaning.  Tuned on the dev set and
the held-out curated wordings only (bench/retrieval/NOTES.md): dev R@1 0.844 -> 0.903, R@3 0.963
-> 0.972; calibration top-1 0.504 -> 0.639.  The recall is for real exported knowledge bases
(issue #11): their questions in citizens' words (癌症, 没了, 首付) often share no word with the
staff's keyword titles and official answers, and about 12 % of the export-shaped corpus's dev
questions had no correct entry in the lexical top 30.

Entry vectors are computed when the store changes, not per query (embeddings.sync_vectors keeps
them in the store file, keyed by a hash of each entry's wordings), and kept here as one matrix.
Only the query is encoded per search (about 35 ms on one core), and only once per message: the
NLU's vector is in embeddings' query cache.  When the encoder cannot load, or the vectors are not
ready yet, the lexical order is returned unchanged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from .. import embeddings
from ..question import question_part
from ..vector_builder import builder_for, encoding_elsewhere
from .rerank import RERANK_DEPTH, TITLE_FIT_DEPTH, Candidate, rerank

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger(__name__)

DENSE_DEPTH = 30  # lexical candidates re-scored
WEIGHT = 0.7  # share of the similarity in the hybrid score
NAME_SHARE = 0.4  # share of the best name's cosine in the similarity (the rest: the whole entry)
DENSE_RECALL = 20  # entries nearest to the query added to the lexical candidates (0: none)
INLINE_TEXTS = 64  # a refresh encoding at most this many texts runs inside the search (~2 s)
RECHECK_SECONDS = 2.0  # while vectors arrive in the background, the index is rebuilt at most this often


# A backend's candidates for entry ids the dense stage found (it drops ids it cannot show, e.g. of
# kinds the search excludes); their lexical score is 0.
Recall = Callable[[Sequence[str]], list[Candidate]]


@dataclass(frozen=True)
class DenseIndex:
    """Immutable: shared by searches on many threads."""

    generation: int
    matrix: np.ndarray  # every stored text's vector, entry after entry (float32, rows x dim)
    rows: dict[str, tuple[int, int]]  # entry id -> (first row, row after its last) in the matrix
    # For scoring every entry at once (the dense recall): entry ids in matrix order, the row of
    # each one's whole-entry vector, and its name rows (the whole row again for an entry without
    # names) as one index array cut at name_starts.
    ids: tuple[str, ...] = ()
    whole_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    name_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    name_starts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    position: dict[str, int] = field(default_factory=dict)  # entry id -> its place in `ids`
    stamp: tuple[int, int] = (0, 0)  # embeddings.vectors_stamp when built (entries, vectors written)
    partial: bool = False  # built while vectors were still being encoded: some entries lack them

    @classmethod
    def build(cls, report: embeddings.SyncReport, dim: int) -> DenseIndex:
        parts, rows, at = [], {}, 0
        ids, whole_rows, name_rows, name_starts = [], [], [], []
        for entry_id in sorted(report.vectors):
            vectors = report.vectors[entry_id].vectors
            if not len(vectors):
                continue
            rows[entry_id] = (at, at + len(vectors))
            ids.append(entry_id)
            whole_rows.append(at)
            name_starts.append(len(name_rows))
            name_rows.extend(range(at + 1, at + len(vectors)) if len(vectors) > 1 else [at])
            parts.append(vectors)
            at += len(vectors)
        matrix = np.concatenate(parts) if parts else np.zeros((0, dim), dtype=np.float32)
        return cls(
            report.generation,
            np.ascontiguousarray(matrix, dtype=np.float32),
            rows,
            tuple(ids),
            np.array(whole_rows, dtype=np.int64),
            np.array(name_rows, dtype=np.int64),
            np.array(name_starts, dtype=np.int64),
            {entry_id: i for i, entry_id in enumerate(ids)},
        )

    def all_similarities(self, query: np.ndarray) -> np.ndarray:
        """Every entry's similarity (in `ids` order): NAME_SHARE x best name cosine +
        (1 - NAME_SHARE) x whole-entry cosine.  One matrix-vector product: about 1 ms at 10k entries."""
        if not self.ids:
            return np.zeros(0)
        cosines = self.matrix @ np.asarray(query, dtype=np.float32)
        names = np.maximum.reduceat(cosines[self.name_rows], self.name_starts)
        return NAME_SHARE * names.astype(np.float64) + (1.0 - NAME_SHARE) * cosines[self.whole_rows]

    def similarity(self, query: np.ndarray, entry_ids: Sequence[str]) -> np.ndarray:
        """The similarity of these entries (all_similarities); NaN for an entry without vectors."""
        return self.pick(self.all_similarities(query), entry_ids)

    def pick(self, similarities: np.ndarray, entry_ids: Sequence[str]) -> np.ndarray:
        out = np.full(len(entry_ids), np.nan)
        for i, entry_id in enumerate(entry_ids):
            at = self.position.get(entry_id)
            if at is not None:
                out[i] = similarities[at]
        return out

    def nearest(self, similarities: np.ndarray, count: int, exclude: Collection[str]) -> list[str]:
        """The ids of the `count` most similar entries not in `exclude`, most similar first."""
        wanted = min(len(self.ids), count + len(exclude))
        if wanted <= 0:
            return []
        top = np.argpartition(-similarities, wanted - 1)[:wanted]
        top = top[np.lexsort((top, -similarities[top]))]  # ties by id, as in the lexical stage
        return [self.ids[i] for i in top if self.ids[i] not in exclude][:count]


def hybrid_scores(lexical: np.ndarray, similarity: np.ndarray, weight: float = WEIGHT) -> np.ndarray:
    """Final scores on the BM25F scale of the best lexical score (module docstring)."""
    best = float(lexical.max()) if len(lexical) else 0.0
    if best <= 0:
        return lexical.copy()
    known = ~np.isnan(similarity)
    scaled = np.zeros_like(lexical, dtype=np.float64)
    if known.any():
        low, high = similarity[known].min(), similarity[known].max()
        scaled[known] = (similarity[known] - low) / (high - low) if high > low else 1.0
    # An entry without vectors (a draft in the preview, or published after this index was built)
    # keeps its lexical score: its missing similarity counts as its lexical one, so entries the
    # dense recall adds with no word of the question cannot push it down.
    scaled[~known] = lexical[~known] / best
    return best * ((1.0 - weight) * lexical / best + weight * scaled)


class DenseStage:
    """Entry vectors of one store and the re-scoring of a backend's lexical candidates."""

    def __init__(self, store: Store, encoder: embeddings.Encoder | None = None, weight: float = WEIGHT) -> None:
        self.store = store
        self.weight = weight
        self._encoder = encoder
        self._encoder_checked = encoder is not None
        self._index: DenseIndex | None = None
        self._injected = encoder is not None  # a given encoder (tests) is used here, never the builder's
        self._refresh_lock = threading.Lock()
        self._checked = 0.0  # when current() last looked at the store while vectors were missing

    @property
    def encoder(self) -> embeddings.Encoder | None:
        if not self._encoder_checked:
            self._encoder = embeddings.shared_encoder()  # None (logged once) if it cannot load
            self._encoder_checked = True
        return self._encoder

    @property
    def available(self) -> bool:
        return self.encoder is not None

    def encode_in_background(self) -> bool:
        """Start the store's VectorBuilder if many texts wait (True then); few are left to refresh()."""
        if self._injected or self.encoder is None or embeddings.pending_texts(self.store) <= INLINE_TEXTS:
            return False
        builder_for(self.store.path).start()
        return True

    def refresh(self) -> DenseIndex | None:
        """Bring the vectors up to the store now (encoding what changed; many texts on every core
        through the store's VectorBuilder, waiting for another process that is encoding them)."""
        encoder = self.encoder
        if encoder is None:
            return None
        with self._refresh_lock:
            stamp = embeddings.vectors_stamp(self.store)
            index = self._index
            if index is not None and index.stamp == stamp and not index.partial:
                return index
            started = time.perf_counter()
            if self._injected or embeddings.pending_texts(self.store) <= INLINE_TEXTS:
                report = embeddings.sync_vectors(self.store, encoder)
            else:
                builder_for(self.store.path).run(wait=True)
                stamp = embeddings.vectors_stamp(self.store)
                report = embeddings.sync_vectors(self.store, encoder)  # what changed meanwhile, if anything
            index = self._index = replace(DenseIndex.build(report, encoder.dim), stamp=stamp)
            if report.encoded_texts or report.removed:
                log.info(
                    "sentence vectors: %d entries re-encoded (%d texts), %d removed, generation %d, %.0f ms",
                    len(report.encoded_entries),
                    report.encoded_texts,
                    report.removed,
                    index.generation,
                    (time.perf_counter() - started) * 1000,
                )
            return index

    def current(self) -> DenseIndex | None:
        """The vectors for the store as it is if they are cheap to get now.  Otherwise the store's
        VectorBuilder encodes the rest in the background (here, or in the process that already
        does) and searches use the vectors stored so far, re-read at most every RECHECK_SECONDS:
        entries without vectors keep their lexical score until theirs arrive."""
        index = self._index
        if index is not None and index.partial and time.monotonic() - self._checked < RECHECK_SECONDS:
            return index
        stamp = embeddings.vectors_stamp(self.store)
        if index is not None and index.stamp == stamp and not index.partial:
            return index
        encoder = self.encoder
        if encoder is None:
            return None
        self._checked = time.monotonic()
        if not self._injected:
            builder = builder_for(self.store.path)
            if builder.running or encoding_elsewhere(self.store.path):
                return self._stored(stamp, encoder.dim)
        if self._injected or embeddings.pending_texts(self.store) <= INLINE_TEXTS:
            return self.refresh()
        log.info("sentence vectors: encoding in the background; searches stay lexical for entries without them")
        builder.start()
        return self._stored(stamp, encoder.dim)

    def _stored(self, stamp: tuple[int, int], dim: int) -> DenseIndex:
        """An index of the vectors stored so far (none encoded here)."""
        index = self._index
        if index is None or index.stamp != stamp:
            report = embeddings.stored_vectors(self.store, dim)
            index = self._index = replace(DenseIndex.build(report, dim), stamp=stamp, partial=True)
        return index

    def rescore(self, query: str, candidates: Sequence[Candidate], recall: Recall | None = None) -> list[Candidate]:
        """The candidates in hybrid order with hybrid scores; unchanged without vectors.

        With `recall` (the backend's way of making candidates of entries it did not fetch), the
        DENSE_RECALL entries nearest to the query that the lexical candidates lack join them first,
        with a lexical score of 0: a question in words no entry uses can still find its answer."""
        if not candidates or (len(candidates) < 2 and recall is None):
            return list(candidates)
        index = self.current()
        encoder = self.encoder
        if index is None or encoder is None:
            return list(candidates)
        # The asking part of a long message, as the NLU encoded it (often already in the cache).
        query_vector = embeddings.query_vectors(encoder, [question_part(query)])[0]
        similarities = index.all_similarities(query_vector)
        candidates = list(candidates)
        if recall is not None and DENSE_RECALL > 0:
            candidates += recall(index.nearest(similarities, DENSE_RECALL, {c.id for c in candidates}))
        similarity = index.pick(similarities, [c.id for c in candidates])
        scores = hybrid_scores(np.array([c.score for c in candidates]), similarity, self.weight)
        order = sorted(range(len(candidates)), key=lambda i: -scores[i])  # stable: ties keep lexical order
        return [replace(candidates[i], score=float(scores[i])) for i in order]


def fetch_depth(top_k: int, dense: DenseStage | None) -> int:
    """How many lexical hits a backend fetches for the shared post-retrieval step."""
    return max(top_k, RERANK_DEPTH, TITLE_FIT_DEPTH, DENSE_DEPTH if dense is not None else 0)


def post_retrieval(
    query: str,
    terms: Sequence[str],
    candidates: Sequence[Candidate],
    dense: DenseStage | None,
    recall: Recall | None = None,
) -> list[Candidate]:
    """What both backends do with their lexical candidates: the dense recall and re-scoring (when
    on), then rerank.py's title fit and guide-first rule."""
    if dense is not None:
        candidates = dense.rescore(query, candidates, recall)
    return rerank(candidates, terms)


def make_stage(store: Store, enabled: bool | None = None) -> DenseStage | None:
    """The stage for a backend, or None when KB_DENSE (settings.py) turns it off."""
    if enabled is None:
        from ..settings import Settings

        enabled = Settings.from_env().dense
    return DenseStage(store) if enabled else None
