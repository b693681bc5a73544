"""What the knowledge base looks like inside Elasticsearch: index names, mapping, documents, query.

Layout: one alias (the index prefix, e.g. `jsb-kb`) points at one physical index named
`<prefix>.v<UTC timestamp>-<random>`.  A full reindex fills a new physical index and moves the
alias in one `update_aliases` call, so searches always hit a complete index.

Terms: every field holds the canonical search terms of `documents.SearchDocument.terms()` (the
shared jieba tokenizer, synonyms folded) joined by spaces and split again by a `whitespace`
analyzer, so Elasticsearch sees exactly the words the embedded backend sees and needs no Chinese
analysis plugin.

Ranking like the embedded backend: SQLite's bm25() applies column weights to *term frequencies*
inside one document-level BM25 (tf = sum of weight x occurrences per column; length and IDF per
document).  Per-field boosts in Elasticsearch (multi_match) add up separate per-field BM25 scores
instead, which put the same entry first for only 71% of the curated entries' own question
wordings (1,622 of them).  So the
index also holds one `weighted` field where each term of a field is stacked `FIELD_WEIGHTS[field]`
times at one position ("社保|社保|…", split by a pattern_capture filter): its term frequency is
SQLite's weighted frequency, and since stacked tokens do not count towards a document's length,
its length is SQLite's too.  Lucene's average length does count them, which `bm25_parameters`
undoes.  Result: the same first hit for 99.3% of those wordings.  What remains differs is IDF:
Lucene's log(1 + (N - n + 0.5) / (n + 0.5)) against SQLite's log((N - n + 0.5) / (n + 0.5)).
Elasticsearch's BM25 also multiplies by (k1 + 1) with its own k1; the backend rescales scores.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..documents import FIELD_WEIGHTS, FIELDS, SearchDocument
from ..store import Store

# Bump when the mapping or the document shape changes: a live index of another schema version is
# then rebuilt at start-up.
SCHEMA_VERSION = 1

# How often each field's terms are stacked in the `weighted` field (weights must be whole numbers
# there; the shipped ones are).
REPEATS: dict[str, int] = {name: max(1, round(weight)) for name, weight in FIELD_WEIGHTS.items()}

# Fields every hit needs to become a SearchHit (see hits.make_hit).
SOURCE_FIELDS = ["id", "kind", "domain", "display_title", "answer", *FIELDS]

# SQLite FTS5's BM25 constants.
K1, B = 1.2, 0.75

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


@dataclass(frozen=True)
class Bm25Parameters:
    k1: float
    b: float


def bm25_parameters(plain_length: int, weighted_length: int) -> Bm25Parameters:
    """k1 and b for the `weighted` field that give SQLite's length normalisation.

    SQLite: k1 * (1 - b + b * dl / avgdl).  Lucene sees the same dl but an average inflated by the
    stacked tokens, avgdl / c with c = plain / weighted total length; solving
    k1' * (1 - b' + b' * c * dl / avgdl) = k1 * (1 - b + b * dl / avgdl) for every dl gives these.
    """
    if plain_length <= 0 or weighted_length <= 0:
        return Bm25Parameters(K1, B)
    c = plain_length / weighted_length
    k1 = K1 * (1 - B) + K1 * B / c
    return Bm25Parameters(round(k1, 6), round(K1 * B / c / k1, 6))


def index_body(bm25: Bm25Parameters) -> dict[str, Any]:
    stored_only = {"type": "keyword", "index": False, "doc_values": False}
    return {
        "settings": {
            "index": {
                # One shard: term statistics (IDF) are then exact, as in the embedded backend; a
                # knowledge base of 100k entries is far below one shard's comfortable size.
                "number_of_shards": 1,
                "auto_expand_replicas": "0-1",  # a replica as soon as the cluster has a second node
                "similarity": {"kb_bm25": {"type": "BM25", "k1": bm25.k1, "b": bm25.b}},
            },
            "analysis": {
                "filter": {"unstack": {"type": "pattern_capture", "preserve_original": False, "patterns": ["([^|]+)"]}},
                "analyzer": {"kb_weighted": {"type": "custom", "tokenizer": "whitespace", "filter": ["unstack"]}},
            },
        },
        "mappings": {
            "dynamic": "strict",
            "_meta": {"schema": SCHEMA_VERSION, "weights": REPEATS, "bm25": {"k1": bm25.k1, "b": bm25.b}},
            "_source": {"excludes": ["weighted"]},  # rebuilt from the store, never read back
            "properties": {
                "id": {"type": "keyword"},
                "kind": {"type": "keyword"},
                "domain": {"type": "keyword"},
                "display_title": stored_only,
                "answer": {"type": "text", "index": False},
                "stamp": {"type": "keyword"},  # the store's version@updated_at of what is indexed
                # Per-field terms, kept to explain hits (matched field, coverage) like the embedded backend.
                **{name: {"type": "text", "index": False} for name in FIELDS},
                "weighted": {
                    "type": "text",
                    "analyzer": "kb_weighted",
                    "search_analyzer": "whitespace",
                    "similarity": "kb_bm25",
                },
            },
        },
    }


def weighted_text(terms: Mapping[str, str]) -> str:
    """Each term of each field stacked REPEATS[field] times: "社保|社保|社保 低保|低保 …"."""
    out: list[str] = []
    for name in FIELDS:
        repeat = REPEATS[name]
        for term in terms.get(name, "").replace("|", "").split():
            out.append("|".join([term] * repeat))
    return " ".join(out)


def lengths(terms: Mapping[str, str]) -> tuple[int, int]:
    """(plain, weighted) number of terms of one document."""
    counts = {name: len(terms.get(name, "").split()) for name in FIELDS}
    return sum(counts.values()), sum(count * REPEATS[name] for name, count in counts.items())


def es_document(doc: SearchDocument, terms: Mapping[str, str], stamp: str | None) -> dict[str, Any]:
    return {
        "id": doc.id,
        "kind": doc.kind,
        "domain": doc.domain,
        "display_title": doc.title,
        "answer": doc.answer,
        "stamp": stamp or "",
        **{name: terms.get(name, "") for name in FIELDS},
        "weighted": weighted_text(terms),
    }


def query_body(terms: Sequence[str], top_k: int, kinds: Sequence[str] | None) -> dict[str, Any]:
    # A match query, not query_string: the terms are plain words, so Lucene syntax in a citizen's
    # message (+ - && || ! ( ) { } [ ] ^ " ~ * ? : \ /) means nothing.  OR of the terms, as in SQLite.
    query: dict[str, Any] = {"bool": {"must": [{"match": {"weighted": {"query": " ".join(terms)}}}]}}
    if kinds:
        query["bool"]["filter"] = [{"terms": {"kind": list(kinds)}}]
    return {"size": top_k, "query": query, "_source": SOURCE_FIELDS, "track_total_hits": False}


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


def _row_to_document(row: Sequence[Any]) -> dict[str, Any]:
    entry_id, kind, domain, title, answer, *values, stamp = row
    doc = SearchDocument(entry_id, kind, domain, title, answer, {})
    return es_document(doc, dict(zip(FIELDS, values, strict=True)), stamp)


def store_documents(store: Store, ids: Iterable[str] | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, Elasticsearch document) for every entry of the store, or for those of `ids` that exist."""
    db = store.connection()
    if ids is None:
        for row in db.execute(_ROWS_SQL):
            yield row[0], _row_to_document(row)
        return
    wanted = list(ids)
    for start in range(0, len(wanted), 500):  # SQLite limits the number of parameters
        chunk = wanted[start : start + 500]
        for row in db.execute(_ROWS_SQL + f" WHERE s.id IN ({', '.join('?' * len(chunk))})", chunk):
            yield row[0], _row_to_document(row)


def store_stamps(store: Store) -> dict[str, str]:
    """id -> version@updated_at for every entry: what an up-to-date index holds as `stamp`."""
    return dict(store.connection().execute("SELECT id, version || '@' || updated_at FROM entries").fetchall())


def store_stamp(store: Store, entry_id: str) -> str | None:
    sql = "SELECT version || '@' || updated_at FROM entries WHERE id = ?"
    row = store.connection().execute(sql, (entry_id,)).fetchone()
    return row[0] if row else None


def store_lengths(store: Store) -> tuple[int, int]:
    """(plain, weighted) total number of terms in the store: the input of bm25_parameters."""
    plain = weighted = 0
    for row in store.connection().execute(f"SELECT {', '.join(FIELDS)} FROM search_index"):
        p, w = lengths(dict(zip(FIELDS, row, strict=True)))
        plain, weighted = plain + p, weighted + w
    return plain, weighted
