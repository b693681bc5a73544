"""python -m bench.scale: the lock and the tracker store per turn, embedded (SQLite) vs engines
(Redis, PostgreSQL), measured in this process; writes results.json and REPORT.md here."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

from bot.rasa_lock_store import SQLiteLockStore
from bot.rasa_redis_lock import RedisLockStore
from bot.rasa_tracker_store import SQLiteTrackerStore

from .report import write_report
from .run import REPO, Arm, domain, interleave, lock_op, tracker_op, uptime

HERE = Path(__file__).resolve().parent


def scale_engines() -> ModuleType:
    """tests/scale/scale_engines.py: one way to start PostgreSQL and Redis, the scale tests' own."""
    spec = importlib.util.spec_from_file_location("scale_engines", REPO / "tests" / "scale" / "scale_engines.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["scale_engines"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Run the arms; the engines' arms only without --sqlite-only.  Engines stop on the way out."""
    the_domain = domain()
    lock_arms = [Arm("SQLite file", lock_op(SQLiteLockStore(db=str(work / "locks.sqlite3"))))]
    sqlite_tracker = SQLiteTrackerStore(domain=the_domain, db=str(work / "tracker.sqlite3"))
    tracker_arms = [Arm("SQLite file", await tracker_op(sqlite_tracker, the_domain, args.conversations, args.turns))]
    engines: dict[str, str] = {}
    with ExitStack() as stack:
        if not args.sqlite_only:
            found = scale_engines()
            message = ""
            if found.postgres_bin() is None or found.redis_server() is None:
                message = found.ensure_installed()
            if found.postgres_bin() is None or found.redis_server() is None:
                sys.exit(f"PostgreSQL or Redis is missing and could not be installed: {message}")
            redis = found.Redis(found.redis_server())
            stack.callback(redis.stop)
            redis.start()
            postgres = found.Postgres(found.postgres_bin(), durable=True)
            stack.callback(postgres.stop)
            postgres.start()
            engines = {"postgres": str(found.postgres_bin()), "redis": found.redis_server()}
            redis_lock = RedisLockStore(url=redis.url(db=1))
            stack.callback(redis_lock.stop)
            lock_arms.append(Arm("Redis", lock_op(redis_lock), [redis.process.pid]))
            pg_tracker = SQLiteTrackerStore(domain=the_domain, host=postgres.create_database("bench_tracker"))
            tracker_arms.append(
                Arm(
                    "PostgreSQL",
                    await tracker_op(pg_tracker, the_domain, args.conversations, args.turns),
                    [postgres.process.pid],
                )
            )
        before = uptime()
        await interleave(lock_arms, args.rounds, args.lock_ops, warm_up=20)
        await interleave(tracker_arms, args.rounds, args.tracker_ops, warm_up=3)
        after = uptime()
    return {
        "started": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "uptime_before": before,
        "uptime_after": after,
        "rounds": args.rounds,
        "lock_ops": args.lock_ops,
        "tracker_ops": args.tracker_ops,
        "conversations": args.conversations,
        "turns": args.turns,
        "engines": engines,
        "lock": {arm.name: arm.summary() for arm in lock_arms},
        "tracker": {arm.name: arm.summary() for arm in tracker_arms},
        "blocks": {
            f"{kind}/{arm.name}": arm.blocks
            for kind, arms in (("lock", lock_arms), ("tracker", tracker_arms))
            for arm in arms
        },
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--rounds", type=int, default=9, help="rounds of interleaved blocks (default 9)")
    parser.add_argument("--lock-ops", type=int, default=200, help="lock operations per block (default 200)")
    parser.add_argument("--tracker-ops", type=int, default=20, help="tracker turns per block (default 20)")
    parser.add_argument("--conversations", type=int, default=10, help="seeded conversations (default 10)")
    parser.add_argument("--turns", type=int, default=30, help="turns already in each conversation (default 30)")
    parser.add_argument("--sqlite-only", action="store_true", help="only the embedded side: no engine started")
    parser.add_argument("--out", type=Path, default=HERE, help="where results.json and REPORT.md go")
    parser.add_argument("--report-only", action="store_true", help="rewrite REPORT.md from results.json")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    results = args.out / "results.json"
    if args.report_only:
        data = json.loads(results.read_text(encoding="utf-8"))
    else:
        with tempfile.TemporaryDirectory(prefix="jsb-bench-scale-") as work:
            data = asyncio.run(measure(args, Path(work)))
        args.out.mkdir(parents=True, exist_ok=True)
        results.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"report: {write_report(data, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
