"""End-to-end load benchmark (issue #12): the real stack as `make run` starts it, driven by
simulated citizens through the REST API and widget websockets at several concurrency levels, and
plain Rasa 3.6 with its default pipeline on the same messages as the anchor line.

    python -m bench.load                       # full run: 1/8/16/32 citizens, 180 s each
    python -m bench.load --duration 60         # shorter levels
    python -m bench.load --report-only         # rewrite REPORT.md from bench/load/results.json

Writes bench/load/REPORT.md, bench/load/load.png and bench/load/results.json (summaries, RSS
timeline, head-of-line probe; per-turn records go to var/load_turns_<system>.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from bench.load import anchor, report
from bench.load.messages import hol_message, length_stats, message_set
from bench.load.run import Sampler, head_of_line, level_record, run_level
from bench.stack import REPO, running_stack

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
TURNS = REPO / "var" / "load_turns_{system}.json"
# The REST API's flood limit is per client address, and every simulated citizen comes from
# 127.0.0.1; the widget's is per connection (1 frame/s).  Both are lifted so that the benchmark
# measures the assistant, not the limiter (issue #12 item 6 is about fitting the limits to callers).
UNLIMITED = {
    "BOT_API_RATE": "100000",
    "BOT_API_RATE_BURST": "100000",
    "BOT_API_KEY_RATE": "100000",  # the REST citizens call as one app, with the stack's key
    "BOT_API_KEY_BURST": "100000",
    "BOT_WS_RATE": "100000",
    "BOT_WS_RATE_BURST": "100000",
    # And each REST citizen's own pace (2/s): a closed loop with no thinking time is faster.
    "BOT_API_USER_RATE": "100000",
    "BOT_API_USER_BURST": "100000",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Loopback only.  The machine is shared: the report records the load average.",
    )
    parser.add_argument(
        "--levels", default="1,8,16,32", help="comma-separated numbers of concurrent citizens (default: 1,8,16,32)"
    )
    parser.add_argument("--duration", type=float, default=180, help="seconds of load per level (default: 180)")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=240,
        help="after each level, wait up to this long (s) for the backlog of pending messages to drain (default: 240)",
    )
    parser.add_argument("--hol-window", type=float, default=45, help="seconds per head-of-line phase (default: 45)")
    parser.add_argument(
        "--hol-background", type=int, default=4, help="citizens chatting during the head-of-line probe (default: 4)"
    )
    parser.add_argument("--seed", type=int, default=12, help="seed of the citizens' message orders (default: 12)")
    parser.add_argument("--data-dir", type=Path, default=REPO / "var" / "load_stack", help="the stack's scratch data")
    parser.add_argument("--skip-stack", action="store_true", help="only the anchor (keeps the stack's old results)")
    parser.add_argument("--skip-anchor", action="store_true", help="only the stack (keeps the anchor's old results)")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from results.json")
    parser.add_argument("--out", type=Path, default=HERE, help="where REPORT.md, load.png, results.json go")
    return parser.parse_args(argv)


def _save_turns(system: str, turns: list[dict[str, Any]]) -> None:
    path = Path(str(TURNS).format(system=system))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(turns, ensure_ascii=False), encoding="utf-8")


def _save(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)  # --out may name a new folder
    (out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


async def drive(
    url: str,
    pids: dict[str, list[int]],
    system: str,
    args: argparse.Namespace,
    texts: list[str],
    headers: dict[str, str] | None = None,
) -> dict:
    levels = [int(value) for value in args.levels.split(",")]
    found: dict[str, Any] = {"levels": [], "timeline": []}
    turns: list[dict[str, Any]] = []
    with Sampler(pids) as sampler:
        await asyncio.sleep(3)  # a few idle samples first
        for concurrency in levels:
            print(f"{system}: {concurrency} citizens for {args.duration:.0f} s", flush=True)
            level = await run_level(
                system, url, concurrency, args.duration, texts, sampler, args.seed, args.drain_timeout, headers
            )
            record = level_record(level)
            found["levels"].append(record["summary"])
            turns.append({"system": system, "concurrency": concurrency, "turns": record["turns"]})
            print(json.dumps({k: v for k, v in record["summary"].items() if k != "by_channel"}), flush=True)
        if system == "jishiban" and args.hol_window > 0:
            print("head-of-line probe", flush=True)
            found["head_of_line"] = await head_of_line(
                url, args.hol_background, args.hol_window, texts, hol_message(args.seed), sampler, args.seed, headers
            )
            print(json.dumps(found["head_of_line"]), flush=True)
        await asyncio.sleep(2)
        found["timeline"] = sampler.timeline
    found["turns"] = turns
    return found


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    out: Path = args.out
    results: dict[str, Any] = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    if args.report_only:
        report.write(results, out)
        return
    run_began = time.monotonic()
    messages = message_set(args.seed)
    texts = [message.text for message in messages]
    info = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "levels": args.levels,
        "duration_s": args.duration,
        "drain_timeout_s": args.drain_timeout,
        "hol_window_s": args.hol_window,
        "hol_background": args.hol_background,
        "seed": args.seed,
        "messages": length_stats([len(text) for text in texts]),
        "rate_env": UNLIMITED,
        "load_at_start": list(os.getloadavg()),
    }
    if args.skip_stack and "run" in results:
        results["run"]["anchor_run"] = info  # the stack's run stays described as it was
    else:
        results["run"] = info
    if not args.skip_stack:
        # A fresh bot store and tracker store each run; the KB store is kept (unchanged entries are not
        # encoded again, so a rerun starts in seconds rather than a minute).
        for stale in args.data_dir.glob("*.sqlite3*"):
            if not stale.name.startswith("kb."):
                stale.unlink()
        began = time.monotonic()
        with running_stack(args.data_dir, env=UNLIMITED) as stack:
            ready = time.monotonic() - began
            print(f"stack ready after {ready:.0f} s: {stack.processes()}", flush=True)
            found = asyncio.run(drive(stack.bot_url, stack.processes(), "jishiban", args, texts, stack.api_headers))
        found["ready_s"] = round(ready, 1)
        _save_turns("jishiban", found.pop("turns"))
        results["jishiban"] = found
        _save(results, out)
    if not args.skip_anchor:
        print("training/starting plain Rasa (anchor)", flush=True)
        began = time.monotonic()
        with anchor.running_anchor() as plain:
            ready = time.monotonic() - began
            processes = {role: [pid] for role, pid in plain.pids().items()}
            found = asyncio.run(drive(plain.url, processes, "anchor", args, texts))
        found["ready_s"] = round(ready, 1)
        _save_turns("anchor", found.pop("turns"))
        results["anchor"] = found
    info["load_at_end"] = list(os.getloadavg())
    info["minutes"] = round((time.monotonic() - run_began) / 60, 1)
    _save(results, out)
    report.write(results, out)
    print(f"wrote {out / 'REPORT.md'}", flush=True)


if __name__ == "__main__":
    main()
