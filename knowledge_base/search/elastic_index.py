"""What the knowledge base looks like inside Elasticsearch: index names, mapping, documents, query.

Layout: one alias (the index prefix, e.g. `jsb-kb`) points at one physical index named
`<prefix>.v<UTC timestamp>-<random>`.  A full reindex fills a new physical index and moves the
alias in one `update_aliases` call, so searches always hit a complete index.

Terms: every field holds the canonical search terms of `documents.SearchDocument.terms()` (the
shared jieba tokenizer, synonyms folded) joined by spaces and split again by a `whitespace`
analyzer, so Elasticsearch sees exactly the words the embedded backend sees and needs no Chinese
analysis plugin.

Ranking like the embedded backend (search/bm25f.py, BM25F): for term t and entry d it sums
tf~ = sum over fields f of w_f * tf_f / (1 - b_f + b_f * len_f / avglen_f) across the fields and
scores idf(t) * (k1 + 1) * tf~ / (k1 + tf~), with Lucene's idf.  Per-field boosts in Elasticsearch
(multi_match) would add up separate per-field BM25 scores instead, which put the same entry first
for only 71% of the curated entries' own question wordings.  So the index holds one `weighted`
field in which each distinct term of an entry is stacked round(QUANTUM * tf~) times at one
position ("社保|社保|…", split by a pattern_capture filter): its term frequency is tf~ in steps of
1/QUANTUM.  With no length normalisation (b = 0) and k1' = k1 * QUANTUM, Lucene's BM25 on it is
idf(t) * (k1' + 1) * tf~ / (k1 + tf~): the embedded score times a constant, which the backend
divides out (SCORE_SCALE), so scores are on one scale and the thresholds in actions/ hold for
both.  The field averages avglen_f are those of the store when the index was built (kept in the
index's _meta); a rebuild refreshes them.  Ties are ordered by id, as in the embedded backend.
Measured: the same first hit as the embedded backend for all 1,622 curated wordings, and for 99.3%
of the benchmark questions on a 10k-entry corpus; scores within 0.5% of the embedded ones.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from ..documents import FIELDS, SearchDocument
from ..models import UNSEARCHED_KINDS
from ..store import Store
from .bm25f import Bm25fParams

# Bump when the mapping or the document shape changes: a live index of another schema version is
# then rebuilt at start-up.
SCHEMA_VERSION = 2

RANKING = Bm25fParams()  # the embedded backend's k1, per-field b and weights
QUANTUM = 8  # tf~ in steps of 1/8: at 10k entries the same first hit for 97.3%, 99.3%, 99.5% of the
# benchmark questions with 4, 8, 16, and a reindex of 9, 13, 18 s
K1 = RANKING.k1
# Lucene multiplies by (k1' + 1) = (k1 * QUANTUM + 1); the embedded backend by (k1 + 1).
SCORE_SCALE = (K1 + 1) / (K1 * QUANTUM + 1)

# Fields every hit needs to become a SearchHit (see hits.make_hit).
SOURCE_FIELDS = ["id", "kind", "domain", "display_title", "answer", *FIELDS]

_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_-]{0,150}$")


def check_prefix(prefix: str) -> str:
    """The prefix itself, or ValueError saying what a valid one looks like."""
    if not _PREFIX.match(prefix):
        raise ValueError(
            f"KB_ES_INDEX_PREFIX {prefix!r} is not a valid index name: use lowercase letters, digits, '-' or '_'"
        )
    return prefix


def new_index_name(prefix: str) -> str:
    """A fresh physical index name; names of one prefix sort by creation time."""
    now = datetime.now(timezone.utc)
    return f"{prefix}.v{now:%Y%m%d%H%M%S}{now.microsecond // 1000:03d}-{secrets.token_hex(2)}"


def physical_pattern(prefix: str) -> str:
    """Every physical index of this prefix, and none of another (prefixes have no dots)."""
    return f"{prefix}.v*"


def ranking_signature() -> dict[str, Any]:
    """What the `weighted` field was computed with; an index with another one is rebuilt."""
    return {
        "k1": K1,
        "b": dict(RANKING.b),
        "weights": {name: float(weight) for name, weight in RANKING.weights.items()},
        "quantum": QUANTUM,
    }


def index_body(averages: Mapping[str, float], entries: int) -> dict[str, Any]:
    return {
        "settings": {
            "index": {
                # One shard: term statistics (IDF) are then exact, as in the embedded backend; a
                # knowledge base of 100k entries is far below one shard's comfortable size.
                "number_of_shards": 1,
                "auto_expand_replicas": "0-1",  # a replica as soon as the cluster has a second node
                "similarity": {"kb_bm25f": {"type": "BM25", "k1": K1 * QUANTUM, "b": 0.0}},
            },
            "analysis": {
                "filter": {"unstack": {"type": "pattern_capture", "preserve_original": False, "patterns": ["([^|]+)"]}},
                "analyzer": {"kb_weighted": {"type": "custom", "tokenizer": "whitespace", "filter": ["unstack"]}},
            },
        },
        "mappings": {
            "dynamic": "strict",
            "_meta": {
                "schema": SCHEMA_VERSION,
                "ranking": ranking_signature(),
                "averages": dict(averages),
                "entries": entries,
            },
            "_source": {"excludes": ["weighted"]},  # rebuilt from the store, never read back
            "properties": {
                "id": {"type": "keyword"},
                "kind": {"type": "keyword"},
                "domain": {"type": "keyword"},
                "display_title": {"type": "keyword", "index": False, "doc_values": False},
                "answer": {"type": "text", "index": False},
                "stamp": {"type": "keyword"},  # the store's version@updated_at of what is indexed
                # Per-field terms, kept to explain hits (matched field, coverage) like the embedded backend.
                **{name: {"type": "text", "index": False} for name in FIELDS},
                "weighted": {
                    "type": "text",
                    "analyzer": "kb_weighted",
                    "search_analyzer": "whitespace",
                    "similarity": "kb_bm25f",
                    "index_options": "freqs",  # no positions: only the (stacked) term frequency counts
                    "norms": False,  # b = 0: the length normalisation is already in tf~
                },
            },
        },
    }


def weighted_text(terms: Mapping[str, str], averages: Mapping[str, float]) -> str:
    """Each distinct term stacked round(QUANTUM * tf~) times (at least once): "社保|社保|… 低保|…"."""
    tf: dict[str, float] = {}
    for name in FIELDS:
        words = terms.get(name, "").replace("|", "").split()
        if not words:
            continue
        b = RANKING.b[name]
        weight = RANKING.weights[name] / (1.0 - b + b * len(words) / (averages.get(name) or 1.0))
        for word in words:
            tf[word] = tf.get(word, 0.0) + weight
    return " ".join("|".join([word] * max(1, round(QUANTUM * value))) for word, value in tf.items())


def es_document(
    doc: SearchDocument, terms: Mapping[str, str], stamp: str | None, averages: Mapping[str, float]
) -> dict[str, Any]:
    return {
        "id": doc.id,
        "kind": doc.kind,
        "domain": doc.domain,
        "display_title": doc.title,
        "answer": doc.answer,
        "stamp": stamp or "",
        **{name: terms.get(name, "") for name in FIELDS},
        "weighted": weighted_text(terms, averages),
    }


def query_body(terms: Sequence[str], top_k: int, kinds: Sequence[str] | None) -> dict[str, Any]:
    # A match query, not query_string: the terms are plain words, so Lucene syntax in a citizen's
    # message (+ - && || ! ( ) { } [ ] ^ " ~ * ? : \ /) means nothing.  OR of the terms, as in SQLite.
    query: dict[str, Any] = {"bool": {"must": [{"match": {"weighted": {"query": " ".join(terms)}}}]}}
    if kinds:
        query["bool"]["filter"] = [{"terms": {"kind": list(kinds)}}]
    return {
        "size": top_k,
        "query": query,
        "sort": [{"_score": {"order": "desc"}}, {"id": {"order": "asc"}}],  # ties by id, as embedded
        "_source": SOURCE_FIELDS,
        "track_total_hits": False,
    }


def field_terms(source: Mapping[str, Any]) -> dict[str, str]:
    return {name: str(source.get(name) or "") for name in FIELDS}


# -- reading the store --------------------------------------------------------------------------
# The store already holds every entry's search terms (its FTS5 table, written in the same
# transaction as the entry).  Reading them back means a reindex needs no second jieba pass and
# both backends index byte-identical terms.

_ROWS_SQL = f"""
SELECT s.id, s.kind, s.domain, s.display_title, s.answer, {", ".join("s." + f for f in FIELDS)},
       e.version || '@' || e.updated_at
FROM search_index AS s JOIN entries AS e ON e.id = s.id
"""


def _row_to_document(row: Sequence[Any], averages: Mapping[str, float]) -> dict[str, Any]:
    entry_id, kind, domain, title, answer, *values, stamp = row
    doc = SearchDocument(entry_id, kind, domain, title, answer, {})
    return es_document(doc, dict(zip(FIELDS, values, strict=True)), stamp, averages)


def store_documents(
    store: Store, averages: Mapping[str, float], ids: Iterable[str] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, Elasticsearch document) for every entry of the store, or for those of `ids` that exist."""
    db = store.connection()
    if ids is None:
        for row in db.execute(_ROWS_SQL):
            yield row[0], _row_to_document(row, averages)
        return
    wanted = list(ids)
    for start in range(0, len(wanted), 500):  # SQLite limits the number of parameters
        chunk = wanted[start : start + 500]
        for row in db.execute(_ROWS_SQL + f" WHERE s.id IN ({', '.join('?' * len(chunk))})", chunk):
            yield row[0], _row_to_document(row, averages)


def store_stamps(store: Store) -> dict[str, str]:
    """id -> version@updated_at for every entry: what an up-to-date index holds as `stamp`."""
    kinds = ", ".join(f"'{k}'" for k in sorted(UNSEARCHED_KINDS))  # never indexed (models.UNSEARCHED_KINDS)
    sql = f"SELECT id, version || '@' || updated_at FROM entries WHERE kind NOT IN ({kinds})"
    return dict(store.connection().execute(sql).fetchall())


def store_stamp(store: Store, entry_id: str) -> str | None:
    sql = "SELECT version || '@' || updated_at FROM entries WHERE id = ?"
    row = store.connection().execute(sql, (entry_id,)).fetchone()
    return row[0] if row else None


def field_averages(store: Store) -> dict[str, float]:
    """Mean number of terms per entry in each field, as the embedded backend computes it."""
    totals = dict.fromkeys(FIELDS, 0)
    count = 0
    for row in store.connection().execute(f"SELECT {', '.join(FIELDS)} FROM search_index"):
        count += 1
        for name, text in zip(FIELDS, row, strict=True):
            totals[name] += len(text.split())
    return {name: (total / count if total else 1.0) for name, total in totals.items()}
