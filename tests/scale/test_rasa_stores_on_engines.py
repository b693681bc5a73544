"""Rasa's tracker store on PostgreSQL and its conversation lock on Redis, as the endpoints that
bot/rasa_endpoints.py writes for RASA_TRACKER_URL / RASA_LOCK_REDIS_URL build them: the real
classes, real servers, real processes.

The windowed tracker store's own tests (tests/bot/test_rasa_tracker_window.py) run here again on
PostgreSQL, unchanged: the same state from the last turns, each turn stored once, in order.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import multiprocessing
import os
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config
from scale_engines import Postgres, Redis

from bot.rasa_endpoints import endpoints_file
from bot.rasa_redis_lock import RedisLockStore
from bot.rasa_tracker_store import SQLiteTrackerStore

REPO = Path(__file__).resolve().parents[2]

# The window tests, loaded from their file (tests/bot is no package) and run with `store` below.
_spec = importlib.util.spec_from_file_location("tracker_window_tests", REPO / "tests/bot/test_rasa_tracker_window.py")
assert _spec is not None and _spec.loader is not None
window = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(window)
for _name in dir(window):
    # All but the one that builds its own SQLite file.
    if _name.startswith("test_") and _name != "test_turns_setting_zero_loads_the_whole_session":
        globals()[_name] = getattr(window, _name)


@pytest.fixture(scope="module")
def tracker_url(postgres: Postgres) -> str:
    return postgres.create_database(f"tracker_{secrets.token_hex(3)}")


def built_from_endpoints(env: dict[str, str], section: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The endpoint config Rasa reads from the file bot/rasa_endpoints.py writes for `env`."""
    # Rasa substitutes every ${VAR} of the file when it reads it, also those of the other sections.
    for name in ("ACTION_ENDPOINT_URL", "ACTION_SECRET", "RASA_TRACKER_DB", "RASA_LOCK_DB"):
        monkeypatch.setenv(name, os.environ.get(name) or "unused-here")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = endpoints_file(str(REPO / "endpoints.yml"), env)
    assert path != str(REPO / "endpoints.yml")
    assert all(value not in Path(path).read_text() for value in env.values())  # no URL on disk
    return read_endpoint_config(path, section)


@pytest.fixture
def store(tracker_url: str, monkeypatch: pytest.MonkeyPatch) -> SQLiteTrackerStore:
    """The window tests' store, on PostgreSQL, built as Rasa builds it from the endpoints."""
    monkeypatch.setenv("RASA_TRACKER_TURNS", str(window.TURNS))
    config = built_from_endpoints({"RASA_TRACKER_URL": tracker_url}, "tracker_store", monkeypatch)
    built = TrackerStore.create(config, window.DOMAIN)
    built = getattr(built, "_tracker_store", built)  # Rasa wraps it in a fail-safe store
    assert isinstance(built, SQLiteTrackerStore)
    assert built.engine.dialect.name == "postgresql"
    return built


async def test_two_instances_share_the_conversation_masked(store: SQLiteTrackerStore, tracker_url: str) -> None:
    tracker = DialogueStateTracker("pg-1", window.DOMAIN.slots)
    tracker.update(UserUttered("俺的身份证号是370125199001011234，社保卡咋补办"))
    tracker.update(SlotSet("service_id", "guide.social-security-card"))
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)

    other = SQLiteTrackerStore(domain=window.DOMAIN, host=tracker_url)  # a second Rasa instance
    again = await other.retrieve("pg-1")
    assert again is not None and again.get_slot("service_id") == "guide.social-security-card"
    engine = sa.create_engine(tracker_url)
    with engine.connect() as db:
        stored = db.execute(sa.text("SELECT data FROM events WHERE type_name = 'user'")).scalar()
    engine.dispose()
    assert "370125199001011234" not in stored and "社保卡咋补办" in json.loads(stored)["text"]


# -- the lock on Redis ------------------------------------------------------------------------------


@pytest.fixture
def lock_url(redis: Redis) -> Iterator[str]:
    url = redis.url(db=1)
    yield url
    import redis as redis_client

    redis_client.Redis.from_url(url).flushdb()


def _issue(url: str, count: int, out: multiprocessing.Queue) -> None:
    store = RedisLockStore(url=url)
    out.put([store.issue_ticket("c1") for _ in range(count)])
    store.stop()


def test_rasa_builds_it_from_the_endpoints(lock_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    config = built_from_endpoints({"RASA_LOCK_REDIS_URL": lock_url}, "lock_store", monkeypatch)
    store = LockStore.create(config)
    assert isinstance(store, RedisLockStore)
    assert store.issue_ticket("c9") == 0
    store.stop()


def test_two_processes_never_get_the_same_ticket(lock_url: str) -> None:
    out: multiprocessing.Queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_issue, args=(lock_url, 150, out)) for _ in range(3)]
    for worker in workers:
        worker.start()
    tickets = out.get(timeout=60) + out.get(timeout=60) + out.get(timeout=60)
    for worker in workers:
        worker.join(timeout=30)
    assert sorted(tickets) == list(range(450))


async def test_turns_of_one_conversation_run_one_at_a_time(lock_url: str) -> None:
    first, second = RedisLockStore(url=lock_url), RedisLockStore(url=lock_url)  # two Rasa instances
    inside: list[str] = []
    overlaps = 0

    async def turn(store: RedisLockStore, name: str) -> None:
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
    first.stop()
    second.stop()


def _hold(url: str, ready: Any) -> None:
    store = RedisLockStore(url=url, owner_ttl=1.0)
    store.issue_ticket("c1")  # a turn in progress, never finished: this process gets killed
    ready.set()
    time.sleep(600)


async def test_a_killed_instances_ticket_is_dropped_after_its_heartbeat_stops(lock_url: str) -> None:
    """kill -9 of a Rasa instance in the middle of a turn: another instance takes the
    conversation once the dead one's heartbeat key expires, not after the ticket's 60 s."""
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(lock_url, ready))
    holder.start()
    assert ready.wait(30)
    other = RedisLockStore(url=lock_url, owner_ttl=1.0)

    async def take() -> None:
        async with other.lock("c1", wait_time_in_seconds=0.05):
            pass

    try:
        with pytest.raises(asyncio.TimeoutError):  # the holder is alive (its heartbeat runs): it keeps its turn
            await asyncio.wait_for(take(), 2.5)
        os.kill(holder.pid, signal.SIGKILL)  # type: ignore[arg-type]
        holder.join(timeout=10)
        started = time.monotonic()
        await asyncio.wait_for(take(), 10.0)
        assert time.monotonic() - started < 3.0  # owner_ttl (1 s) and a check, far below the lifetime
        assert other.get_lock("c1") is None
    finally:
        other.stop()
        if holder.is_alive():
            holder.kill()


def _hold_in_fork(store: RedisLockStore, ready: Any) -> None:
    store.issue_ticket("c2")  # the store object came from the parent, as in a forked Sanic worker
    ready.set()
    time.sleep(600)


async def test_a_forked_worker_is_an_instance_of_its_own(lock_url: str) -> None:
    """SANIC_WORKERS > 1: Rasa's workers are forked after the lock store may have been made.  A
    killed worker's ticket is dropped although its parent, with the same store object, lives on."""
    parent = RedisLockStore(url=lock_url, owner_ttl=1.0)
    parent.issue_ticket("c1")  # the parent's heartbeat runs
    ready = multiprocessing.get_context("fork").Event()
    worker = multiprocessing.get_context("fork").Process(target=_hold_in_fork, args=(parent, ready))
    worker.start()
    assert ready.wait(30)
    os.kill(worker.pid, signal.SIGKILL)  # type: ignore[arg-type]
    worker.join(timeout=10)

    async def take() -> None:
        async with parent.lock("c2", wait_time_in_seconds=0.05):
            pass

    try:
        await asyncio.wait_for(take(), 10.0)
    finally:
        parent.stop()
