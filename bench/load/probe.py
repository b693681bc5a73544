"""A quick reading of one turn's cost on the real stack, robust to a shared machine: start the
stack (`scripts/run.sh` on a copy of a data folder, so "nothing changed" starts can be timed),
send N messages of `messages.yml` through the REST API (one at a time, or by C citizens
at once, each waiting for its reply before its next message), and print the CPU ms per
turn of each service, the time until all services answered, and each service's RSS and PSS.

    python -m bench.load.probe --data-dir var --turns 150 [--citizens 8] [--env SANIC_WORKERS=1] [--segments 3]

CPU time is summed over every process of a service (Rasa's workers, threads included).  Wall
time is printed too but depends on the machine's other work; the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle, islice
from pathlib import Path

import psutil

from bench.stack import ROLES, start

from .messages import message_set
from .metrics import percentile
from .run import _is_apology


def _cpu(pids: dict[str, list[int]]) -> dict[str, float]:
    out = {}
    for role, ids in pids.items():
        total = 0.0
        for pid in ids:
            try:
                times = psutil.Process(pid).cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        out[role] = total
    return out


def _memory(pids: dict[str, list[int]]) -> dict[str, dict[str, float]]:
    out = {}
    for role, ids in pids.items():
        rss = pss = 0.0
        for pid in ids:
            try:
                info = psutil.Process(pid).memory_full_info()
            except psutil.NoSuchProcess:
                continue
            rss += info.rss / 2**20
            pss += info.pss / 2**20
        out[role] = {"rss_mb": round(rss), "pss_mb": round(pss)}
    return out


def _post(url: str, body: dict, headers: dict[str, str]) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def _wait_answer(
    bot_url: str, conversation_id: str, seq: int, headers: dict[str, str], user: str, timeout: float = 90
) -> None:
    url = f"{bot_url}/api/v1/conversations/{conversation_id}/messages?after_seq={seq}&user_id={user}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            history = json.loads(response.read()).get("messages", [])
        if any(m["direction"] == "out" and m.get("reply_to") == seq and not _is_apology(m) for m in history):
            return
        time.sleep(0.25)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="a data folder to copy (KB loaded)")
    parser.add_argument("--turns", type=int, default=150)
    parser.add_argument("--citizens", type=int, default=1, help="conversations at once")
    parser.add_argument("--env", action="append", default=[], help="NAME=value for every service")
    parser.add_argument(
        "--segments", type=int, default=1, help="also CPU ms per turn in each of N equal parts of the run"
    )
    args = parser.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    env.update({"BOT_API_RATE": "100000", "BOT_API_RATE_BURST": "100000"})
    env.update({"BOT_API_USER_RATE": "100000", "BOT_API_USER_BURST": "100000"})
    texts = [m.text for m in message_set()]
    # More turns than messages go round the set again: a conversation's length is what costs.
    texts = list(islice(cycle([t for t in texts if "人工" not in t]), args.turns))
    with tempfile.TemporaryDirectory(prefix="probe-") as scratch:
        data = Path(scratch) / "data"
        shutil.copytree(args.data_dir, data, ignore=shutil.ignore_patterns("*.log", "rasa_*.sqlite3*"))
        started = time.monotonic()
        stack = start(data, env)
        ready_s = time.monotonic() - started
        try:
            pids = stack.processes()
            memory_start = _memory(pids)
            before = _cpu(pids)
            walls: list[float] = []
            # CPU readings when the count of answered turns crosses each segment's end.
            ends = {round(len(texts) * k / args.segments) for k in range(1, args.segments)}
            readings: list[dict[str, float]] = [before]
            counted = threading.Lock()

            def citizen(number: int) -> None:
                conversation = 0
                for text in texts[number :: args.citizens]:
                    t0 = time.monotonic()
                    user = f"probe-{number}-{conversation}"
                    url = stack.bot_url + "/api/v1/messages"
                    body = _post(url, {"user_id": user, "text": text}, stack.api_headers)
                    if body.get("status") == "pending":  # an apology first: wait for the answer
                        seq = body["message"]["seq"]
                        _wait_answer(stack.bot_url, body["conversation_id"], seq, stack.api_headers, user)
                    with counted:
                        walls.append((time.monotonic() - t0) * 1000)
                        if len(walls) in ends:
                            readings.append(_cpu(pids))
                    if body.get("state") not in (None, "bot"):
                        conversation += 1  # handed to a helper: Rasa would not see the next one

            began = time.monotonic()
            with ThreadPoolExecutor(args.citizens) as pool:
                list(pool.map(citizen, range(args.citizens)))
            elapsed = time.monotonic() - began
            after = _cpu(stack.processes())
            readings.append(after)
            memory_end = _memory(stack.processes())
        finally:
            stack.stop()
    per_turn = {role: round((after[role] - before[role]) * 1000 / len(texts), 1) for role in ROLES}
    bounds = [0, *sorted(ends), len(texts)]
    by_segment = [
        {
            "turns": f"{bounds[i] + 1}-{bounds[i + 1]}",
            **{
                role: round((readings[i + 1][role] - readings[i][role]) * 1000 / (bounds[i + 1] - bounds[i]), 1)
                for role in ROLES
            },
        }
        for i in range(len(readings) - 1)
    ]
    print(
        json.dumps(
            {
                "env": env,
                "load_average": os.getloadavg(),
                "ready_s": round(ready_s, 1),
                "turns": len(texts),
                "citizens": args.citizens,
                "turns_per_s": round(len(texts) / elapsed, 1),
                "cpu_ms_per_turn": per_turn,
                "cpu_ms_per_turn_services": round(sum(per_turn.values()), 1),
                "cpu_ms_per_turn_by_segment": by_segment,
                "wall_ms_p50_p95": [round(percentile(walls, 50)), round(percentile(walls, 95))],
                "memory_after_start": memory_start,
                "memory_at_end": memory_end,
            },
            ensure_ascii=False,
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
