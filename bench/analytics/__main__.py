"""python -m bench.analytics — the analytics page's cost on a store of 1 M messages; writes REPORT.md.

A fresh bot store (bot.store.Store's schema) is filled in bulk with a quarter of traffic: citizen
messages and answers (half each), answer/handoff events, unanswered and clarified questions and
ratings, in citizens' words from a small fixed list.  Then, on one connection as the service does:

  build       the first refresh: every stored row folded into the rollup (once per store)
  report      bot.analytics.report for the last 30 and the last 90 days (median of 5)
  increment   1,000 new turns arrive, then refresh + report (what a page load costs in steady use)
  naive       the volume-by-day query straight from messages, for comparison

CPU seconds (time.process_time) are the main figure: the machine is shared, wall time is noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot import analytics
from bot.store import Store

HERE = Path(__file__).resolve().parent
ZONE = ZoneInfo("Asia/Shanghai")
WORDS = [
    "营业执照怎么办",
    "社保卡丢了咋补",
    "公积金怎么取",
    "俺想办居住证",
    "退休手续要带啥",
    "孩子上学报名",
    "火星签证怎么办",
]
CHANNELS = ["webwidget", "webwidget", "webwidget", "telegram", "rest"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics", description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000, help="stored messages (default %(default)s)")
    parser.add_argument("--entries", type=int, default=2_000, help="knowledge-base entries (default %(default)s)")
    parser.add_argument("--days", type=int, default=90, help="days the traffic spreads over (default %(default)s)")
    parser.add_argument("--out", type=Path, default=HERE, help="where REPORT.md goes")
    return parser.parse_args(argv)


def fill(store: Store, messages: int, entries: int, days: int, rng: random.Random) -> dict[str, int]:
    """Bulk rows shaped like the service's (one transaction per table)."""
    db = store.db
    now = time.time()
    turns = messages // 2
    conversations = max(1, turns // 4)
    convs = [(f"c{i:08d}", CHANNELS[i % len(CHANNELS)]) for i in range(conversations)]
    born = [now - rng.random() * days * 86400 for _ in convs]
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO conversations (id, channel, external_id, state, citizen, created_at, updated_at) "
        "VALUES (?, ?, ?, 'bot', '{}', ?, ?)",
        ((cid, ch, cid, t, t) for (cid, ch), t in zip(convs, born, strict=True)),
    )
    db.execute("COMMIT")
    rows, events, unresolved, ratings = [], [], [], []
    seq = 0
    for turn in range(turns):
        index = turn % conversations
        cid, channel = convs[index]
        when = born[index] + (turn // conversations) * 30
        seq += 2
        rows.append((seq - 1, cid, "in", rng.choice(WORDS), when))
        rows.append((seq, cid, "out", "答", when + 1))
        roll = rng.random()
        if roll < 0.7:
            entry = f"qa.{rng.randrange(entries)}"
            events.append((cid, channel, "answer", f'{{"entry_id":"{entry}"}}', when + 1))
            if rng.random() < 0.04:
                ratings.append((cid, channel, seq, entry, rng.randint(1, 5), when + 5))
        elif roll < 0.82:
            unresolved.append((cid, channel, seq - 1, rng.choice(WORDS), "clarify", when))
        elif roll < 0.95:
            unresolved.append((cid, channel, seq - 1, rng.choice(WORDS), "not_found", when))
        else:
            events.append((cid, channel, "handoff", '{"reason":"request_human"}', when + 1))
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO messages (seq, conversation_id, direction, kind, text, status, created_at) "
        "VALUES (?, ?, ?, 'text', ?, 'answered', ?)",
        rows,
    )
    db.executemany(
        "INSERT INTO analytics_events (conversation_id, channel, kind, data, created_at) VALUES (?, ?, ?, ?, ?)",
        events,
    )
    db.executemany(
        "INSERT INTO unresolved_questions (conversation_id, channel, message_seq, text, reason, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        unresolved,
    )
    db.executemany(
        "INSERT INTO ratings (conversation_id, channel, message_seq, entry_id, value, level, created_at) "
        "VALUES (?, ?, ?, ?, CASE WHEN ? > 2 THEN 'good' ELSE 'bad' END, ?, ?)",
        ((c, ch, s, e, lv, lv, t) for c, ch, s, e, lv, t in ratings),
    )
    db.execute("COMMIT")
    return {
        "messages": len(rows),
        "conversations": conversations,
        "events": len(events),
        "unresolved": len(unresolved),
        "ratings": len(ratings),
    }


def timed(fn, repeat: int = 1) -> tuple[float, float]:
    """(median CPU seconds, median wall seconds) of `repeat` calls."""
    cpu, wall = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


def window(days: int) -> analytics.Filters:
    today = datetime.now(ZONE).date()
    return analytics.Filters(today - timedelta(days=days - 1), today, None, None, ZONE)


async def run(args: argparse.Namespace) -> str:
    rng = random.Random(16)
    entries = {f"qa.{i}": (f"条目{i}", "qa", f"d{i % 15}") for i in range(args.entries)}
    names = analytics.Names(entries, {f"d{i}": f"领域{i}" for i in range(15)})
    results: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store(Path(tmp) / "bot.sqlite3").open()
        c0, w0 = time.process_time(), time.perf_counter()
        counts = fill(store, args.messages, args.entries, args.days, rng)
        fill_cpu, fill_wall = time.process_time() - c0, time.perf_counter() - w0
        analytics.set_entry_domains(store.db, {k: v[2] for k, v in entries.items()})

        def build() -> None:
            while not analytics.refresh_step(store.db):
                pass

        results.append(("build: first refresh over every stored row", *timed(build)))
        [rollup] = store.db.execute("SELECT COUNT(*) FROM analytics_rollup").fetchone()
        analytics.report(store.db, window(30), names, 60)  # jieba loads once (grouping the questions)
        for days in (30, 90):
            cost = timed(lambda: analytics.report(store.db, window(days), names, 60), 5)  # noqa: B023
            results.append((f"report: last {days} days (median of 5)", *cost))

        def increment() -> None:
            build()
            analytics.report(store.db, window(30), names, 60)

        # 1,000 new turns (2,000 messages) with fresh seqs, then what a page load does.
        [top] = store.db.execute("SELECT MAX(seq) FROM messages").fetchone()
        now = time.time()
        store.db.execute("BEGIN")
        store.db.executemany(
            "INSERT INTO messages (seq, conversation_id, direction, kind, text, status, created_at) "
            "VALUES (?, 'c00000000', ?, 'text', '营业执照怎么办', 'answered', ?)",
            ((top + 1 + i, "in" if i % 2 == 0 else "out", now) for i in range(2_000)),
        )
        store.db.execute("COMMIT")
        results.append(("increment: 1,000 new turns, refresh + 30-day report", *timed(increment)))

        def naive() -> None:
            since = window(30).since
            store.db.execute(
                "SELECT date(m.created_at, 'unixepoch', '+8 hours') AS day, c.channel, COUNT(*) FROM messages m "
                "JOIN conversations c ON c.id = m.conversation_id WHERE m.direction = 'in' AND m.created_at >= ? "
                "GROUP BY day, c.channel",
                (since,),
            ).fetchall()

        results.append(("naive: volume by day and channel straight from messages (30 days)", *timed(naive, 3)))
        size = os.path.getsize(store.path) // (1024 * 1024)
        await store.close()
    load = os.getloadavg()
    lines = [
        "# Analytics on 1 M stored messages (bench/analytics)",
        "",
        "Run with `python -m bench.analytics` (options: `--help`).  One run, "
        f"{datetime.now(ZONE):%Y-%m-%d %H:%M} Asia/Shanghai, Python {platform.python_version()}, "
        f"SQLite {__import__('sqlite3').sqlite_version}, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        "on a 2-core machine shared with other jobs: CPU seconds are the figure to read, wall seconds are noisy.",
        "",
        f"Store: {counts['messages']:,} messages in {counts['conversations']:,} conversations over {args.days} days, "
        f"{counts['events']:,} answer/handoff events, {counts['unresolved']:,} unanswered or clarified questions, "
        f"{counts['ratings']:,} ratings, {args.entries:,} entries; {size} MiB on disk "
        f"(filled in {fill_cpu:.1f} s CPU / {fill_wall:.1f} s wall).  Rollup: {rollup:,} rows.",
        "",
        "| step | CPU s | wall s |",
        "|---|---:|---:|",
        *[f"| {name} | {cpu:.3f} | {wall:.3f} |" for name, cpu, wall in results],
        "",
        "## Reading it",
        "",
        "- The build runs once per store (and after that only over new rows); on the service it runs in "
        f"batches of {analytics.BATCH:,} rows with the event loop getting a turn between them.",
        "- A page load is the increment line: fold the new rows, then read the rollup.  The rollup has one "
        "row per (metric, hour, channel, domain, entry), so its size follows hours × entries answered, "
        "not messages.",
        "- The rollup keeps answers per entry per hour, which is most of its rows; a report also groups the "
        "period's newest 3,000 unanswered questions by their words (jieba, as on the worklist).  Which of "
        "the two costs more was not measured separately.",
        "- The naive line is one of the page's eleven charts computed from the messages table; the page "
        "would pay it for every chart and every filter change.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    text = asyncio.run(run(args))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "REPORT.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
