"""python -m bench.bot — bot-service overhead per message and memory with many widgets; writes REPORT.md."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from pathlib import Path

from .report import console_summary, write_markdown, write_plot
from .run import run_all

HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bot",
        description=(
            "Start the real bot service (python -m bot) in front of an instant Rasa stand-in and measure: "
            "the time the bot service adds per message (widget websocket and REST, one message at a time; "
            "target p95 <= 5 ms), and its memory with many widget websockets held open (target: 200 "
            "connections within 150 MB RSS), plus one burst where every open connection asks at once. "
            "Writes REPORT.md and bot_bench.png next to this file (or into --out)."
        ),
        epilog="Examples:  python -m bench.bot   |   python -m bench.bot --quick   |   ... --connections 400",
    )
    parser.add_argument("--messages", type=int, default=2000, help="messages timed per path (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=100, help="untimed messages first (default %(default)s)")
    parser.add_argument(
        "--connections", type=int, default=200, help="websockets held open at the end (default %(default)s)"
    )
    parser.add_argument("--hold", type=float, default=5.0, help="seconds to hold each step while sampling RSS")
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin the bot service and the load generator to separate CPUs"
    )
    parser.add_argument(
        "--real-rasa", metavar="URL", help="also time 100 messages straight to a running real Rasa, for context"
    )
    parser.add_argument("--quick", action="store_true", help="300 messages, 3 s holds: a quick look, not the report")
    parser.add_argument("--out", type=Path, default=HERE, help="where REPORT.md and the plot go (default: bench/bot)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.messages, args.warmup, args.hold = 300, 30, 3.0
    steps = sorted({step for step in (25, 50, 100, 200, 400, 800) if step < args.connections} | {args.connections})
    results = asyncio.run(
        run_all(args.messages, args.warmup, steps, args.hold, pin=not args.no_pin, real_rasa=args.real_rasa)
    )
    args.out.mkdir(parents=True, exist_ok=True)
    plot = args.out / "bot_bench.png"
    write_plot(results, plot)
    command = "python -m bench.bot " + shlex.join(argv if argv is not None else sys.argv[1:])
    write_markdown(results, args.out / "REPORT.md", plot.name, command.strip())
    print(console_summary(results))
    print(f"wrote {args.out / 'REPORT.md'} and {plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
