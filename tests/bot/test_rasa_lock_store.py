"""bot.rasa_lock_store: the SQLite lock two Rasa workers share (real Rasa lock classes, real
SQLite, real processes): every ticket handed out once, turns of one conversation one at a time."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest
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


def _hold(path: str, ready: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    store = SQLiteLockStore(db=path)
    store.issue_ticket("c1")  # a turn in progress, never finished: this process gets killed
    ready.set()  # type: ignore[attr-defined]
    time.sleep(600)


async def test_a_killed_holders_ticket_is_dropped_at_once(tmp_path: Path) -> None:
    """kill -9 of the Rasa instance in the middle of a turn: the other instance takes the
    conversation at its next check, not after the ticket's lifetime (60 s)."""
    path = str(tmp_path / "locks.sqlite3")
    SQLiteLockStore(db=path)
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(path, ready))
    holder.start()
    assert ready.wait(30)
    other = SQLiteLockStore(db=path)

    async def take() -> None:
        async with other.lock("c1", wait_time_in_seconds=0.05):
            pass

    with pytest.raises(asyncio.TimeoutError):  # the holder is alive: its turn is respected
        await asyncio.wait_for(take(), 1.0)
    os.kill(holder.pid, signal.SIGKILL)  # type: ignore[arg-type]
    holder.join(timeout=10)
    started = time.monotonic()
    await asyncio.wait_for(take(), 5.0)
    assert time.monotonic() - started < 2.0
