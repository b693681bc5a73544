"""One writer, many readers in other processes: readers always see whole, searchable entries."""

import multiprocessing as mp
import time
from pathlib import Path

from knowledge_base.models import QA
from knowledge_base.search.embedded import EmbeddedSearch
from knowledge_base.store import Store

MARKER = "蓝鲸测试事项"


def make_qa(n: int) -> QA:
    return QA(
        id=f"qa.test.writer-{n}",
        domain="test",
        question=f"{MARKER}第{n}号怎么办理？",
        similar=[f"{MARKER}{n}", f"办{MARKER}{n}", f"{MARKER}{n}在哪办"],
        answer=f"这是第{n}号测试答案。",
    )


def reader(db: str, stop_at: float, results: "mp.Queue[tuple[int, int, str]]") -> None:
    store = Store(db)
    search = EmbeddedSearch(store)
    checks, errors = 0, ""
    try:
        while time.monotonic() < stop_at:
            hits = search.search_sync(MARKER, top_k=500)
            stored = {e.id for e in store.all("qa") if e.id.startswith("qa.test.writer-")}
            found = {h.id for h in hits}
            # every entry found by search is stored, and each search hit is complete
            missing = found - stored
            if missing:
                errors = f"searchable but not stored: {sorted(missing)[:3]}"
                break
            checks += 1
    except Exception as error:  # a reader must never fail (locked database, torn rows)
        errors = repr(error)
    results.put((checks, len(found), errors))


def test_readers_in_other_processes_while_a_writer_publishes(tmp_path: Path):
    db = tmp_path / "kb.sqlite3"
    writer = Store(db)
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    stop_at = time.monotonic() + 6
    readers = [ctx.Process(target=reader, args=(str(db), stop_at, results)) for _ in range(3)]
    for process in readers:
        process.start()
    published = 0
    while time.monotonic() < stop_at - 1:
        writer.upsert([make_qa(published), make_qa(published + 1)], author="test")
        published += 2
    outcomes = [results.get(timeout=60) for _ in readers]
    for process in readers:
        process.join(timeout=30)
    assert published > 10
    for checks, _found, errors in outcomes:
        assert errors == ""
        assert checks > 0
    # after the writer is done a fresh reader sees everything it published
    assert len(EmbeddedSearch(Store(db)).search_sync(MARKER, top_k=100_000)) == published
