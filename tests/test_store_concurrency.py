"""One writer, many readers in other processes: readers always see whole, searchable entries."""

import multiprocessing as mp
from pathlib import Path

from knowledge_base.models import QA
from knowledge_base.search.embedded import EmbeddedSearch
from knowledge_base.store import Store

MARKER = "蓝鲸测试事项"
PUBLISHES = 150  # writes of two entries each, while the readers read


def make_qa(n: int) -> QA:
    return QA(
        id=f"qa.test.writer-{n}",
        domain="test",
        question=f"{MARKER}第{n}号怎么办理？",
        similar=[f"{MARKER}{n}", f"办{MARKER}{n}", f"{MARKER}{n}在哪办"],
        answer=f"这是第{n}号测试答案。",
    )


def reader(db: str, ready: "mp.Event", stop: "mp.Event", results: "mp.Queue[tuple[int, int, str]]") -> None:
    checks, errors, found = 0, "", set()
    try:
        store = Store(db)
        search = EmbeddedSearch(store)
        search.search_sync(MARKER)  # load the tokenizer before saying ready
        ready.set()
        while not stop.is_set():
            found = {h.id for h in search.search_sync(MARKER, top_k=1000)}
            stored = {e.id for e in store.all("qa") if e.id.startswith("qa.test.writer-")}
            # every entry that search finds is stored (no index row without its entry)
            missing = found - stored
            if missing:
                errors = f"searchable but not stored: {sorted(missing)[:3]}"
                break
            checks += 1
    except Exception as error:  # a reader must never fail (locked database, torn rows)
        errors = repr(error)
    finally:
        ready.set()
    results.put((checks, len(found), errors))


def test_readers_in_other_processes_while_a_writer_publishes(tmp_path: Path):
    db = tmp_path / "kb.sqlite3"
    writer = Store(db)
    writer.upsert([make_qa(100_000)])  # the writer's tokenizer is loaded before the clock matters
    ctx = mp.get_context("spawn")
    results, stop = ctx.Queue(), ctx.Event()
    readers = []
    for _ in range(3):
        ready = ctx.Event()
        process = ctx.Process(target=reader, args=(str(db), ready, stop, results))
        process.start()
        readers.append((process, ready))
    for _process, ready in readers:
        assert ready.wait(timeout=120), "a reader process did not start"
    for n in range(PUBLISHES):
        writer.upsert([make_qa(2 * n), make_qa(2 * n + 1)], author="test")
    stop.set()
    outcomes = [results.get(timeout=120) for _ in readers]
    for process, _ready in readers:
        process.join(timeout=30)
    for checks, _found, errors in outcomes:
        assert errors == ""
        assert checks > 0
    # after the writer is done a fresh reader sees everything it published
    assert len(EmbeddedSearch(Store(db)).search_sync(MARKER, top_k=100_000)) == 2 * PUBLISHES + 1
