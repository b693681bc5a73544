"""bench/scale's code path on tiny inputs, embedded side only (no engine): the benchmark runs and
writes its report, each tracker operation is one real turn stored, each lock operation leaves no
lock behind, and the capacity model's arithmetic holds."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from bench.scale import report
from bench.scale.__main__ import main
from bench.scale.run import domain, lock_op, tracker_op
from bot.rasa_lock_store import SQLiteLockStore
from bot.rasa_tracker_store import SQLiteTrackerStore


def test_the_embedded_side_runs_and_writes_its_report(tmp_path: Path) -> None:
    argv = ["--sqlite-only", "--rounds", "2", "--lock-ops", "3", "--tracker-ops", "2"]
    assert main([*argv, "--conversations", "2", "--turns", "2", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    for kind in ("lock", "tracker"):
        measured = data[kind]["SQLite file"]
        assert measured["blocks"] == 2
        assert measured["cpu_ms"] > 0 and measured["wall_ms"] > 0
    assert "load average" in data["uptime_before"]
    text = (tmp_path / "REPORT.md").read_text(encoding="utf-8")
    assert "| SQLite file | 2 |" in text
    assert "not measured in this run" in text  # no engines: no model pretending otherwise


async def test_a_tracker_operation_stores_one_turn_of_the_next_conversation(tmp_path: Path) -> None:
    the_domain = domain()
    store = SQLiteTrackerStore(domain=the_domain, db=str(tmp_path / "tracker.sqlite3"))
    op = await tracker_op(store, the_domain, conversations=2, turns=3)
    for i in range(3):
        await op(i)
    with store.engine.connect() as db:
        users = db.execute(
            sa.text("SELECT sender_id, count(*) FROM events WHERE type_name = 'user' GROUP BY sender_id")
        ).all()
    assert sorted(count for _sender, count in users) == [4, 5]  # 3 seeded each, then 2 + 1 more
    first = next(sender for sender, count in users if count == 5)
    latest = await store.retrieve(first)
    assert latest is not None and latest.latest_message.message_id == "m5"  # numbered on from the seeded turns


async def test_a_lock_operation_takes_and_finishes_a_ticket(tmp_path: Path) -> None:
    store = SQLiteLockStore(db=str(tmp_path / "locks.sqlite3"))
    op = lock_op(store)
    await op(7)
    await op(7)  # a ticket left behind would make this one wait and fail
    assert store.get_lock("c7") is None


def test_the_capacity_model_adds_the_measured_overhead() -> None:
    def arm(cpu: float, engine: float, wall: float) -> dict[str, float]:
        return {"cpu_ms": cpu, "engine_cpu_ms": engine, "wall_ms": wall}

    data = {
        "lock": {"SQLite file": arm(0.2, 0, 0.2), "Redis": arm(0.5, 0.1, 0.9)},
        "tracker": {"SQLite file": arm(10, 0, 15), "PostgreSQL": arm(12, 3, 20)},
    }
    over = report.coordination(data)
    assert round(over["app_cpu_ms"], 6) == 2.3 and round(over["engine_cpu_ms"], 6) == 3.1
    peak = report.peak_turns_per_s()
    assert round(peak["city"], 6) == round(peak["district"] * report.ASSUME["districts_in_city"], 6)
    small, big = report.sizing(1.0, 150, {"PostgreSQL": 3}), report.sizing(100.0, 150, {"PostgreSQL": 3})
    assert small["hosts"] == 2  # never one: no single process whose crash drops conversations
    assert big["cores"] == 100 * small["cores"] and big["hosts"] > 2
    assert big["engines"]["PostgreSQL"] == 0.3
