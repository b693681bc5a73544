"""Wait until every service answers and say where to chat (the `ready` line of the Procfile; it exits
0 when done, which scripts/supervise.py takes as finished, not as a crash).

A service given several URLs (comma-separated: the Rasa instances) is ready when one answers: the
bot service can then answer citizens; the others join as they finish loading."""

from __future__ import annotations

import argparse
import time
import urllib.error
import urllib.request


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for all services")
    parser.add_argument("--chat", default="", help="the address to print once everything is ready")
    parser.add_argument("urls", nargs="+", metavar="NAME=URL", help="a service and its URL(s, comma-separated)")
    args = parser.parse_args()
    waiting = dict(item.split("=", 1) for item in args.urls)
    deadline = time.monotonic() + args.timeout
    started = time.monotonic()
    while waiting and time.monotonic() < deadline:
        for name, url in list(waiting.items()):
            if any(answers(one) for one in url.split(",")):
                print(f"{name} is ready ({url}) after {time.monotonic() - started:.0f} s", flush=True)
                del waiting[name]
        time.sleep(1)
    if waiting:
        print(f"still not answering after {args.timeout:.0f} s: {', '.join(waiting)}; see the log above", flush=True)
    elif args.chat:
        print(f"\n  济时办 is running. Chat at {args.chat}  (Ctrl-C stops everything)", flush=True)
        print(
            "  The demo page's widget needs nothing more.  The REST API (/api/v1) needs a calling app's key:\n"
            "    .venv/bin/python -m bot.apikeys create my-app      (docs/security.md)\n",
            flush=True,
        )


if __name__ == "__main__":
    main()
