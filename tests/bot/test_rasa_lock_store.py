"""bot.rasa_lock_store: the SQLite lock two Rasa workers share (real Rasa lock classes, real
SQLite, real processes): every ticket handed out once, turns of one conversation one at a time."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_lock_store import SQLiteLockStore


def _issue(path: str, count: int, out: multiprocessing.Queue) -> None:
    store = SQLiteLockStore(db=path)
    out.put([store.issue_ticket("c1") for _ in range(count)])


def test_two_processes_never_get_the_same_ticket(tmp_path: Path) -> None:
    path = str(tmp_path / "locks.sqlite3")
    SQLiteLockStore(db=path)
    out: multiprocessing.Queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_issue, args=(path, 100, out)) for _ in range(2)]
    for worker in workers:
        worker.start()
    tickets = out.get(timeout=60) + out.get(timeout=60)
    for worker in workers:
        worker.join(timeout=30)
    assert sorted(tickets) == list(range(200))


async def test_turns_of_one_conversation_run_one_at_a_time(tmp_path: Path) -> None:
    # Two stores on one file stand for two Rasa workers; Rasa's own `lock()` does the waiting.
    first, second = (SQLiteLockStore(db=str(tmp_path / "locks.sqlite3")) for _ in range(2))
    inside: list[str] = []
    overlaps = 0

    async def turn(store: SQLiteLockStore, name: str) -> None:
        nonlocal overlaps
        async with store.lock("c1", wait_time_in_seconds=0.01):
            if inside:
                overlaps += 1
            inside.append(name)
            await asyncio.sleep(0.05)
            inside.remove(name)

    await asyncio.gather(*(turn(first if i % 2 else second, f"t{i}") for i in range(6)))
    assert overlaps == 0
    assert first.get_lock("c1") is None  # nobody waits any more: the lock is gone


def test_rasa_builds_it_from_endpoints_yml(tmp_path: Path) -> None:
    config = EndpointConfig(type="bot.rasa_lock_store.SQLiteLockStore", db=str(tmp_path / "l.sqlite3"))
    store = LockStore.create(config)
    assert isinstance(store, SQLiteLockStore)
    assert store.issue_ticket("c9") == 0
