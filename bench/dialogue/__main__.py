"""python -m bench.dialogue — multi-turn conversations against the real stack; writes REPORT.md."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.stack import REPO, running_stack

from . import scenarios as scenario_files
from .report import Meta, console_summary, write_dev_json, write_markdown, write_plot
from .run import STACK_ENV, ScenarioResult, play_all

HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dialogue",
        description=(
            "Play the conversation scenarios of bench/dialogue/scenarios/*.yml against the real assistant "
            "(bench/stack.py starts the action server, Rasa and the bot service as `make run` does; the first "
            "start trains the model).  One REST conversation per scenario; every turn is checked against the "
            "replies (entry, element, buttons, walkthrough step, conversation state) and Rasa's tracker "
            "(payloads, slots).  Prints pass rates; with --report writes REPORT.md, dialogue.png and "
            "dev_results.json (dev misses only)."
        ),
        epilog="Examples:  python -m bench.dialogue --split dev --category clarify   |   "
        "python -m bench.dialogue --split all --report   (the baseline: test split once per decision)",
    )
    parser.add_argument(
        "--split",
        choices=["dev", "test", "all"],
        default="dev",
        help="which scenarios: dev (tune on these), test (held out: run once per decision), all (default dev)",
    )
    parser.add_argument("--category", help="only this category (the file's `category`, e.g. clarify, centres)")
    parser.add_argument("--id", action="append", help="only these scenario ids (repeatable); for debugging")
    parser.add_argument(
        "--report", action="store_true", help="write REPORT.md, dialogue.png and dev_results.json (see --out)"
    )
    parser.add_argument("--out", type=Path, default=HERE, help="where the report goes (default bench/dialogue/)")
    parser.add_argument("--jobs", type=int, default=2, help="conversations played at once (default 2)")
    parser.add_argument(
        "--verbose", action="store_true", help="print every failed dev turn as it is judged (never test turns)"
    )
    return parser.parse_args(argv)


def _commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True)
        return head.stdout.strip() + (" (+ uncommitted changes)" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = scenario_files.select(scenario_files.load(), args.split, args.category)
    if args.id:
        chosen = [s for s in chosen if s.id in set(args.id)]
    if not chosen:
        print("no scenarios match", file=sys.stderr)
        return 2
    turns = sum(len(s.turns) for s in chosen)
    print(f"{len(chosen)} scenarios, {turns} turns ({args.split}); starting the stack …", flush=True)
    load_before = os.getloadavg()
    started_at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    with tempfile.TemporaryDirectory(prefix="bench-dialogue-") as scratch:
        with running_stack(Path(scratch), STACK_ENV) as stack:
            print("stack up; playing …", flush=True)
            started = time.perf_counter()

            def progress(result: ScenarioResult) -> None:
                mark = "." if result.passed else "x"
                print(mark, end="", flush=True)
                if args.verbose and result.scenario.split == "dev":
                    for turn in result.turns:
                        if turn.verdict and not turn.verdict.passed:
                            print(f"\n  {result.scenario.id} #{turn.index + 1} {turn.sent[:40]} → {turn.verdict.got}")

            results = asyncio.run(
                play_all(stack.bot_url, stack.tracker, chosen, args.jobs, progress, stack.api_headers)
            )
            seconds = time.perf_counter() - started
            log = stack.log_path.read_text(errors="replace") if stack.log_path.exists() else ""
            rasa_unavailable = log.count("rasa.unavailable")
    print()
    print(console_summary(results))
    print(f"played in {seconds:.0f} s; rasa.unavailable in the stack log: {rasa_unavailable}")
    if args.report:
        args.out.mkdir(parents=True, exist_ok=True)
        command = "python -m bench.dialogue " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        load_after = os.getloadavg()
        meta = Meta(
            command, _commit(), started_at, seconds, load_before, load_after, args.jobs, STACK_ENV, rasa_unavailable
        )
        write_plot(results, args.out / "dialogue.png")
        write_markdown(results, meta, args.out / "REPORT.md", "dialogue.png")
        write_dev_json(results, args.out / "dev_results.json")
        print(f"wrote {args.out / 'REPORT.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
