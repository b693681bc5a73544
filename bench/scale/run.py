"""Coordination cost per turn, in this process: the conversation lock (SQLite file vs Redis) and the
tracker store's retrieve + save (SQLite file vs PostgreSQL), with the classes Rasa loads
(bot/rasa_lock_store.py, bot/rasa_redis_lock.py, bot/rasa_tracker_store.py).

Each arm runs in blocks of `ops` operations; the arms alternate within a round (A B, then B A) and
the rounds repeat, so load from other work on the shared machine falls on both.  Per block: this
process's CPU time (all threads: the Redis lock's heartbeat too), wall time, and the CPU time of
the engine's own processes (PostgreSQL's postmaster and backends, redis-server), per operation.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from rasa.core.lock_store import LockStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_tracker_store import SQLiteTrackerStore

REPO = Path(__file__).resolve().parents[2]
Op = Callable[[int], Awaitable[None]]

# A citizen's message of the load benchmark's median length (135 characters), in their words.
MESSAGE = (
    "俺家老人的社保卡上个月在集市上丢了，里面还有医保的钱，俺想问问现在咋补办，"
    "是不是得本人去大厅，俺们住在回河街道离城里远，老人腿脚不好，能不能俺替他去办，"
    "要带啥材料，户口本行不行，办下来得多长时间，那要多少钱？"
)
ANSWER = (
    "社保卡补办可以在线办理，也可以到区政务服务中心社保窗口办理。所需材料：本人有效身份证件；"
    "代办的还需代办人身份证件和委托书。办理时限：即时制卡的网点当场领取，其他5个工作日。"
    "收费：补换卡工本费按省定标准收取。您可以在“爱山东”搜索“社保卡补换”在线申请，邮寄到家。"
)


def turn_events(number: int) -> list[Event]:
    """One turn as Rasa records it for this assistant: the message with its parse data (intent
    ranking, entities), the answer action and its message with buttons, the slots it sets, listen."""
    ranking = [{"name": f"intent_{k}", "confidence": round(0.9 / (k + 1), 3)} for k in range(10)]
    parse = {
        "intent": {"name": "ask_service", "confidence": 0.91},
        "intent_ranking": ranking,
        "entities": [{"entity": "service", "value": "社保卡补办", "start": 30, "end": 35, "extractor": "Regex"}],
        "text": MESSAGE,
    }
    buttons = [{"title": title, "payload": f'/choose{{"n":{k}}}'} for k, title in enumerate(("材料", "费用", "地点"))]
    return [
        UserUttered(
            MESSAGE, intent=parse["intent"], entities=parse["entities"], parse_data=parse, message_id=f"m{number}"
        ),
        ActionExecuted("action_answer"),
        BotUttered(ANSWER, data={"buttons": buttons}),
        SlotSet("service_id", "guide.social-security-card"),
        SlotSet("fallback_streak", 0),
        SlotSet("recent_services", ["guide.social-security-card", "guide.medical-insurance"]),
        ActionExecuted("action_listen"),
    ]


def domain() -> Domain:
    return Domain.load(str(REPO / "domain.yml"))


async def add_turn(store: SQLiteTrackerStore, the_domain: Domain, sender: str, number: int) -> None:
    """What the processor does with the store in one turn: retrieve (or start), add the turn, save."""
    tracker = await store.retrieve(sender)
    if tracker is None:
        tracker = DialogueStateTracker(sender, the_domain.slots)
        for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")):
            tracker.update(event, the_domain)
    for event in turn_events(number):
        event.timestamp = time.time()
        tracker.update(event, the_domain)
    await store.save(tracker)


async def tracker_op(store: SQLiteTrackerStore, the_domain: Domain, conversations: int, turns: int) -> Op:
    """Seed `conversations` sessions of `turns` turns each; the operation adds one turn to the next
    of them in turn (so each grows by ops/conversations turns in a block)."""
    prefix = f"bench-{os.getpid()}-{time.monotonic_ns()}"
    for c in range(conversations):
        for n in range(turns):
            await add_turn(store, the_domain, f"{prefix}-{c}", n)
    counter = iter(range(10**9))

    async def op(i: int) -> None:
        await add_turn(store, the_domain, f"{prefix}-{i % conversations}", turns + next(counter))

    return op


def lock_op(store: LockStore) -> Op:
    """Rasa's `async with lock_store.lock(conversation_id)` around a turn, nothing inside: take a
    ticket, find it served, finish it.  A conversation per operation, as in a busy district."""

    async def op(i: int) -> None:
        async with store.lock(f"c{i % 50}"):
            pass

    return op


def process_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) of these processes and all their children, as now."""
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


@dataclass
class Arm:
    name: str
    op: Op
    engine_pids: list[int] = field(default_factory=list)
    blocks: list[dict[str, float]] = field(default_factory=list)

    async def block(self, ops: int) -> None:
        engine0, cpu0, wall0, load0 = (
            process_cpu(self.engine_pids),
            time.process_time(),
            time.perf_counter(),
            os.getloadavg()[0],
        )
        for i in range(ops):
            await self.op(i)
        wall, cpu, engine = (
            time.perf_counter() - wall0,
            time.process_time() - cpu0,
            process_cpu(self.engine_pids) - engine0,
        )
        self.blocks.append(
            {
                "cpu_ms": cpu * 1000 / ops,
                "wall_ms": wall * 1000 / ops,
                "engine_cpu_ms": engine * 1000 / ops,
                "load1": (load0 + os.getloadavg()[0]) / 2,
            }
        )

    def summary(self) -> dict[str, Any]:
        def med(key: str) -> float:
            return statistics.median(block[key] for block in self.blocks)

        return {
            "blocks": len(self.blocks),
            "cpu_ms": med("cpu_ms"),
            "wall_ms": med("wall_ms"),
            "engine_cpu_ms": med("engine_cpu_ms"),
            "cpu_ms_range": [min(b["cpu_ms"] for b in self.blocks), max(b["cpu_ms"] for b in self.blocks)],
            "wall_ms_range": [min(b["wall_ms"] for b in self.blocks), max(b["wall_ms"] for b in self.blocks)],
            "load1": med("load1"),
        }


async def interleave(arms: list[Arm], rounds: int, ops: int, warm_up: int = 0) -> None:
    """Warm every arm up, then run `rounds` rounds, alternating the arms' order each round."""
    for arm in arms:
        for i in range(warm_up):
            await arm.op(i)
    for r in range(rounds):
        for arm in arms if r % 2 == 0 else list(reversed(arms)):
            await arm.block(ops)


def uptime() -> str:
    """`uptime`'s line: the load average beside every timing (the machine is shared)."""
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
